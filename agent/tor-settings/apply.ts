import { createHash } from 'node:crypto'
import { CodedError } from '../../rpc/errors'
import type { AgentContext } from '../context'
import { prepareAtomicWrite, writeFileAtomic } from '../fs/atomic-write'
import { removeEntry } from '../fs/entries'
import { readFileThrough } from '../fs/resolve'
import { spawnCommand, type Runner } from '../run'
import { openTorControl } from '../tor/client'
import { torControlSettings } from '../tor/settings'
import { parseBridgeLines, type Bridge } from './bridges'
import { parseSettingsFile, renderSettingsFile, transportOfLine, type SettingsFile } from './file'
import { serialised } from './lock'
import { pluginsFor } from './plugins'
import { reloadTor } from './reload'
import { verifyWithTor } from './verify'

export type TorAction =
  | { readonly kind: 'enable' | 'disable' | 'bridges-clear' }
  | { readonly kind: 'bridges-set'; readonly untrustedText: string }

/** Bridges in use, never the lines themselves. */
export interface BridgeSummary {
  readonly count: number
  readonly transports: readonly string[]
  /** SHA-256 of the lines, one per line, each ending in a newline (null without bridges): lets dom0's Salt state compare. */
  readonly digest: string | null
}

export interface ApplyResult {
  readonly action: TorAction['kind']
  /** False when the file already held this configuration (nothing written, nothing reloaded). */
  readonly changed: boolean
  readonly enabled: boolean
  readonly bridges: BridgeSummary
  /** Tor read the new file and GETCONF shows it. */
  readonly reloaded: boolean
  readonly note: string | null
}

export const summarizeBridges = (lines: readonly string[]): BridgeSummary => ({
  count: lines.length,
  transports: [...new Set(lines.map(transportOfLine))].sort(),
  digest:
    lines.length === 0
      ? null
      : createHash('sha256')
          .update(lines.map((line) => `${line}\n`).join(''))
          .digest('hex'),
})

interface CurrentFile {
  readonly content: Buffer
  readonly parsed: SettingsFile
}

export async function readCurrentFile(context: AgentContext): Promise<CurrentFile | null> {
  const { torSettings } = context.manifest
  const read = await readFileThrough(context.paths.under(torSettings.file), {
    root: context.paths.root,
    maxBytes: torSettings.maxFileBytes,
  })
  return read === null ? null : { content: read.content, parsed: parseSettingsFile(read.content.toString('utf8')) }
}

/** The bridges the file holds now, checked as new ones are (they are written again). */
function keptBridges(context: AgentContext, current: CurrentFile | null): Bridge[] {
  if (current === null || current.parsed.bridgeLines.length === 0) return []
  try {
    return parseBridgeLines(current.parsed.bridgeLines.join('\n'), context.manifest.torSettings.bridges)
  } catch (error) {
    throw new CodedError(
      'TOR_CONFIG_FOREIGN',
      `the bridges in ${context.manifest.torSettings.file} do not pass the check (${(error as Error).message}); set them again (bridges set) or clear them`,
      { exitCode: 2 },
    )
  }
}

async function restore(context: AgentContext, current: CurrentFile | null): Promise<void> {
  const path = context.paths.under(context.manifest.torSettings.file)
  if (current === null) await removeEntry(path, { root: context.paths.root })
  else await writeFileAtomic(path, current.content, { root: context.paths.root })
}

/**
 * Tor's verification and the slow half of the atomic write (the synced temporary file) at
 * once; the rename over ours happens only once Tor has passed the new configuration.
 * Resolves once renamed, with the directory's sync still under way (`durable`).
 */
async function verifiedWrite(
  context: AgentContext,
  content: string,
  run: Runner,
): Promise<{ readonly durable: Promise<unknown> }> {
  const path = context.paths.under(context.manifest.torSettings.file)
  const [verified, prepared] = await Promise.allSettled([
    verifyWithTor(context, content, run),
    prepareAtomicWrite(path, content, { mode: 0o644, directoryMode: 0o755, root: context.paths.root }),
  ])
  if (verified.status === 'rejected') {
    if (prepared.status === 'fulfilled') await prepared.value.abort()
    throw verified.reason
  }
  if (prepared.status === 'rejected') throw prepared.reason
  return prepared.value.rename()
}

async function change(
  context: AgentContext,
  action: TorAction,
  newBridges: Bridge[] | null,
  run: Runner,
): Promise<ApplyResult> {
  const { torSettings } = context.manifest
  const current = await readCurrentFile(context)
  if (current && current.parsed.foreign.length > 0)
    throw new CodedError(
      'TOR_CONFIG_FOREIGN',
      `${torSettings.file} holds settings this command does not manage: ${current.parsed.foreign.join(', ')}; move them to ${torSettings.userFile} or remove them`,
      { exitCode: 2 },
    )
  const bridges = newBridges ?? (action.kind === 'bridges-clear' ? [] : keptBridges(context, current))
  const enabled =
    action.kind === 'enable' ? true : action.kind === 'disable' ? false : (current?.parsed.enabled ?? false)
  const content = renderSettingsFile({ enabled, bridges }, await pluginsFor(context, bridges), torSettings.userFile)
  const result = { action: action.kind, enabled, bridges: summarizeBridges(bridges.map((bridge) => bridge.line)) }
  if (current?.content.equals(Buffer.from(content)))
    return { ...result, changed: false, reloaded: false, note: 'the file already holds this configuration' }

  // Connecting and authenticating to Tor overlap the check; the connection is used only if the check passes.
  const ahead = openTorControl(torControlSettings(context))
  // A Tor that is not running is found out by reloadTor; meanwhile its refusal is handled.
  ahead.catch(() => undefined)
  const written = await verifiedWrite(context, content, run).catch((error: unknown) => {
    void ahead.then(
      (control) => control.connection.close(),
      () => undefined,
    )
    throw error
  })
  const wanted = { enabled, bridges: bridges.map((bridge) => bridge.line) }
  // Tor reads the renamed file at once; the directory's sync, under way meanwhile, only has to end before we answer.
  const outcome = await reloadTor(torControlSettings(context), wanted, torSettings.reloadTimeoutMs, ahead)
  await written.durable
  if (outcome.reloaded) return { ...result, changed: true, reloaded: true, note: null }
  if (!outcome.reachable)
    return {
      ...result,
      changed: true,
      reloaded: false,
      note: `Tor is not reachable (${outcome.reason}); it reads the new file when it starts`,
    }

  await restore(context, current)
  const old = current?.parsed
  await reloadTor(
    torControlSettings(context),
    { enabled: old?.enabled ?? false, bridges: [] },
    torSettings.reloadTimeoutMs,
  )
  throw new CodedError(
    'TOR_REFUSED',
    `Tor did not take the new configuration: ${outcome.reason}; ${torSettings.file} is back as it was`,
  )
}

/**
 * Changes Tor's settings: the new file is built and checked (bridge lines, plugins, then
 * the real `tor --verify-config` over the whole configuration), replaces the old one
 * atomically, and Tor reloads; if Tor does not take it, the old file is put back.
 * Changes run one at a time.
 */
export async function applyTorAction(
  context: AgentContext,
  action: TorAction,
  run: Runner = spawnCommand,
): Promise<ApplyResult> {
  const { torSettings } = context.manifest
  // Input is checked before waiting for the lock: a bad line costs nobody else anything.
  const newBridges = action.kind === 'bridges-set' ? parseBridgeLines(action.untrustedText, torSettings.bridges) : null
  const lockPath = context.paths.under(`${context.manifest.paths.agentRunDir}/${torSettings.lockFile}`)
  return serialised(lockPath, torSettings.lockTimeoutMs, () => change(context, action, newBridges, run))
}
