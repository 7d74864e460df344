import { errorMessage } from '../../rpc/errors'
import type { AgentContext } from '../context'
import { writeFileAtomic } from '../fs/atomic-write'
import { readFileThrough } from '../fs/resolve'
import type { Role } from '../role'
import { connectSystemd, systemBusAddress, type SystemdClient } from '../systemd/client'
import { changesOf, planAddresses, type AddressPlan } from './plan'
import { replaceAddresses, type AddressChange } from './rule'
import { saveAddresses, type SavedOutcome } from './save'

/** The answer of `replace-ips` (text or --json). */
export interface ReplaceIpsReport {
  readonly applicable: boolean
  /** Why it ran or did not (template, not Whonix, ...). */
  readonly reason: string
  readonly dryRun: boolean
  readonly addresses: readonly AddressPlan[]
  readonly files: readonly FileOutcome[]
  readonly saved: readonly SavedOutcome[]
  readonly tor: TorOutcome | null
  /** Anything that went wrong; the command exits 1 when there is one. */
  readonly problems: readonly string[]
}

export interface FileOutcome {
  readonly path: string
  readonly result: 'changed' | 'would-change' | 'unchanged' | 'missing' | 'failed'
  readonly detail?: string
}

export interface TorOutcome {
  readonly unit: string
  readonly action: 'not-needed' | 'restarted' | 'would-restart' | 'not-active' | 'skipped' | 'failed'
  readonly job?: string
  readonly detail?: string
}

export type ConnectSystemd = (context: AgentContext) => Promise<SystemdClient>

const connectFromContext: ConnectSystemd = (context) =>
  connectSystemd({
    busAddress: systemBusAddress(context.env, context.manifest.systemd.systemBusAddress),
    timeoutMs: context.manifest.systemd.busTimeoutMs,
  })

function applicability(role: Role): { applicable: boolean; reason: string } {
  if (!role.qubes) return { applicable: false, reason: 'not a Qubes qube' }
  if (role.whonix === null) return { applicable: false, reason: 'not a Whonix qube' }
  if (role.class === 'template')
    return { applicable: false, reason: 'a template: its AppVMs replace the addresses, never the template itself' }
  if (role.class === null)
    return { applicable: false, reason: 'the qube class is unknown, so it may be a template; nothing replaced' }
  return { applicable: true, reason: `a Whonix ${role.whonix} (${role.class})` }
}

async function rewriteFile(
  context: AgentContext,
  path: string,
  changes: readonly AddressChange[],
  dryRun: boolean,
): Promise<FileOutcome> {
  const rooted = context.paths.under(path)
  try {
    const read = await readFileThrough(rooted, {
      root: context.paths.root,
      maxBytes: context.manifest.replaceIps.maxFileBytes,
    })
    if (read === null) return { path, result: 'missing' }
    const before = read.content.toString('latin1')
    const after = replaceAddresses(before, changes)
    if (after === before) return { path, result: 'unchanged' }
    if (dryRun) return { path, result: 'would-change' }
    const written = await writeFileAtomic(rooted, Buffer.from(after, 'latin1'), { root: context.paths.root })
    return { path, result: written.changed ? 'changed' : 'unchanged' }
  } catch (error) {
    return { path, result: 'failed', detail: errorMessage(error) }
  }
}

async function restartTor(context: AgentContext, connect: ConnectSystemd, dryRun: boolean): Promise<TorOutcome> {
  const unit = context.manifest.systemd.torUnit
  // A simulated qube (--root) must not restart the host's Tor: only a bus named explicitly is used.
  if (context.paths.root !== '/' && !context.env.DBUS_SYSTEM_BUS_ADDRESS)
    return {
      unit,
      action: 'skipped',
      detail: 'a simulated root never restarts the host Tor; DBUS_SYSTEM_BUS_ADDRESS may name a test bus',
    }
  let client: SystemdClient | undefined
  try {
    client = await connect(context)
    if (!(await client.isActive(unit))) return { unit, action: 'not-active' }
    if (dryRun) return { unit, action: 'would-restart' }
    // Restart, not reload: Tor does not rebind its listeners on reload.
    return { unit, action: 'restarted', job: await client.restart(unit) }
  } catch (error) {
    return { unit, action: 'failed', detail: errorMessage(error) }
  } finally {
    client?.close()
  }
}

/**
 * Replaces Whonix's fixed or last-used addresses with those Qubes assigned, in the
 * role's files (each rewritten atomically, unchanged ones untouched), then saves the
 * addresses used and, on a gateway whose Tor files changed, restarts an active Tor.
 */
export async function replaceIps(
  context: AgentContext,
  role: Role,
  options: { dryRun?: boolean; connect?: ConnectSystemd } = {},
): Promise<ReplaceIpsReport> {
  const dryRun = options.dryRun ?? false
  const { applicable, reason } = applicability(role)
  if (!applicable || role.whonix === null)
    return { applicable, reason, dryRun, addresses: [], files: [], saved: [], tor: null, problems: [] }
  const section = context.manifest.replaceIps[role.whonix]
  const addresses = await planAddresses(context, role.whonix)
  const problems = addresses
    .filter((plan) => plan.state === 'invalid')
    .map((plan) => `qubesdb ${plan.qubesdb}: ${plan.detail ?? 'invalid'}; not used`)
  for (const plan of addresses)
    if (plan.saved.state === 'invalid') problems.push(`saved address ${plan.savedFile}: ${plan.saved.reason}; ignored`)
  for (const plan of addresses)
    if (plan.earlierProblem) problems.push(`earlier addresses ${plan.savedFile}: ${plan.earlierProblem}`)

  const changes = changesOf(addresses)
  const files: FileOutcome[] = []
  for (const path of section.files) files.push(await rewriteFile(context, path, changes, dryRun))
  const failed = files.filter((file) => file.result === 'failed')
  problems.push(...failed.map((file) => `${file.path}: ${file.detail ?? 'failed'}`))

  // Saved even when a file failed: the files written now hold the new addresses, and the next
  // run must find them there; the old ones the failed file holds are kept beside them.
  const saved = await saveAddresses(context, addresses, failed.length > 0, dryRun)
  problems.push(
    ...saved
      .filter((outcome) => outcome.result === 'failed')
      .map((outcome) => `saving ${outcome.file}: ${outcome.detail ?? 'failed'}`),
  )

  const torChanged = files.some(
    (file) => (file.result === 'changed' || file.result === 'would-change') && section.torFiles.includes(file.path),
  )
  const tor = torChanged
    ? await restartTor(context, options.connect ?? connectFromContext, dryRun)
    : section.torFiles.length > 0
      ? { unit: context.manifest.systemd.torUnit, action: 'not-needed' as const }
      : null
  if (tor?.action === 'failed') problems.push(`restarting ${tor.unit}: ${tor.detail ?? 'failed'}`)
  return { applicable, reason, dryRun, addresses, files, saved, tor, problems }
}
