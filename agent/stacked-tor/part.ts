import { dirname } from 'node:path'
import type { RpcLog } from '../../rpc/call'
import { errorMessage } from '../../rpc/errors'
import type { AgentContext } from '../context'
import type { DaemonPart, RunningPart } from '../daemon/parts'
import type { Role } from '../role'
import { spawnCommand } from '../run'
import { ensureTorState, type TorStateStatus } from '../tor-state/cookie'
import { createBufferPools } from './buffers'
import { ensureDirectory } from './filesystem'
import { Forwarder, type ForwarderStatus } from './forwarder'
import { workstationInputs } from './inputs'
import type { StackedTorSection } from './manifest'
import { resolveOwnership, type Ownership } from './owners'
import { templatePlan, workstationPlan, type ForwarderPlan } from './plan'
import { streamHandles } from './stream-handles'

export type StackedTorMode = 'workstation' | 'template'

/** The part's answer in `status` (under daemon.parts.stacked-tor). */
export interface StackedTorStatus {
  readonly mode: StackedTorMode
  /** What connections are forwarded on: Node's native stream handles, or Sockets where this Node lacks them. */
  readonly engine: 'handles' | 'sockets'
  /** How many forwarders listen, of how many in the table. */
  readonly listening: number
  readonly total: number
  /** Set when nothing listens on purpose: the gateway's address is missing or invalid. */
  readonly reason?: string
  readonly owner: string
  readonly directories: readonly DirectoryStatus[]
  readonly torState: TorStateStatus | { readonly failed: string }
  readonly forwarders: readonly ForwarderStatus[]
}

export interface DirectoryStatus {
  readonly path: string
  /** Could not be created or is not a directory: nothing is put in it. */
  readonly unusable?: string
  /** Usable, but its owner could not be set. */
  readonly problem?: string
}

/** A workstation (not a template) forwards its whole table; a template of a listed flavour, its own few ports. */
export function stackedTorMode(role: Role, section: StackedTorSection): StackedTorMode | null {
  if (role.class === 'template')
    return role.whonix !== null && section.template.flavours.includes(role.whonix) ? 'template' : null
  return role.whonix === 'workstation' ? 'workstation' : null
}

export interface Table {
  readonly plans: ForwarderPlan[]
  /** Why nothing forwards to the gateway, when its address is unusable. */
  readonly reason?: string
}

export async function tableFor(mode: StackedTorMode, context: AgentContext): Promise<Table> {
  const section = context.manifest.stackedTor
  if (mode === 'template') return { plans: templatePlan(section, context.manifest.whonix.addresses.gateway) }
  const inputs = await workstationInputs(context)
  const plans = workstationPlan(section, inputs)
  return 'error' in inputs.gateway
    ? { plans, reason: `${inputs.gateway.error}: nothing listens (fail closed)` }
    : { plans }
}

/** A socket in a directory that could not be made safe (a link in its place...) must not be created. */
function withoutUnsafe(plans: readonly ForwarderPlan[], unsafe: ReadonlyMap<string, string>): ForwarderPlan[] {
  return plans.map((plan) => {
    const problem = unsafe.get(dirname(plan.name))
    return plan.listen.kind === 'unix' && problem !== undefined
      ? { ...plan, target: null, reason: `${problem}: not listening` }
      : plan
  })
}

/** The listed directories this mode puts something in (sockets, cookie copies). */
function directoriesFor(mode: StackedTorMode, section: StackedTorSection): StackedTorSection['directories'] {
  const used = new Set(
    [...section.torState.copies, ...(mode === 'workstation' ? section.unix.map((entry) => entry.path) : [])].map(
      (path) => dirname(path),
    ),
  )
  return section.directories.filter((dir) => used.has(dir.path))
}

async function prepareDirectories(
  mode: StackedTorMode,
  context: AgentContext,
  ownership: Ownership,
  log: RpcLog,
): Promise<DirectoryStatus[]> {
  const section = context.manifest.stackedTor
  return Promise.all(
    directoriesFor(mode, section).map(async (dir) => {
      try {
        const result = await ensureDirectory(context.paths.under(dir.path), dir.mode, ownership)
        return result.ok ? { path: dir.path } : { path: dir.path, problem: result.reason }
      } catch (error) {
        log.warning(`${dir.path}: ${errorMessage(error)}; nothing is put in it`)
        return { path: dir.path, unusable: errorMessage(error) }
      }
    }),
  )
}

export async function startStackedTor(context: AgentContext, mode: StackedTorMode, log: RpcLog): Promise<RunningPart> {
  const section = context.manifest.stackedTor
  // getent runs without a shell: a shell would read startup files (bash does when its stdin is a socket).
  const ownership = await resolveOwnership(spawnCommand, section.user, section.group)
  if ('error' in ownership) log.warning(`${ownership.error}: sockets and state files keep root as owner`)
  const directories = await prepareDirectories(mode, context, ownership, log)
  const unsafe = new Map(
    directories.flatMap((dir) => (dir.unusable === undefined ? [] : [[dir.path, dir.unusable] as const])),
  )
  const torState = await ensureTorState({
    section,
    under: (path) => context.paths.under(path),
    ownership,
    log,
    skip: unsafe,
  }).catch((error: unknown) => ({ failed: errorMessage(error) }))
  const table = await tableFor(mode, context)
  const plans = withoutUnsafe(table.plans, unsafe)
  const reason = table.reason
  const handles = streamHandles()
  const settings = { ...section.limits, pools: createBufferPools(), handles, log, ownership }
  const forwarders = plans.map((plan) => new Forwarder(plan, settings))
  const started = await Promise.allSettled(forwarders.map((forwarder) => forwarder.start()))
  const crashed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected')
  if (crashed) {
    // The part fails as a whole (the daemon reports it): nothing of it keeps listening.
    await Promise.all(forwarders.map((forwarder) => forwarder.stop()))
    throw crashed.reason
  }
  return {
    async stop() {
      await Promise.all(forwarders.map((forwarder) => forwarder.stop()))
    },
    status(): StackedTorStatus {
      const rows = forwarders.map((forwarder) => forwarder.status())
      return {
        mode,
        engine: handles === null ? 'sockets' : 'handles',
        listening: rows.filter((row) => row.state === 'listening').length,
        total: rows.length,
        ...(reason === undefined ? {} : { reason }),
        owner: 'error' in ownership ? ownership.error : ownership.names,
        directories,
        torState,
        forwarders: rows,
      }
    },
  }
}

export const stackedTorPart: DaemonPart = {
  name: 'stacked-tor',
  appliesTo: (role, context) => stackedTorMode(role, context.manifest.stackedTor) !== null,
  start(context, role, log) {
    const mode = stackedTorMode(role, context.manifest.stackedTor)
    if (mode === null) throw new Error('stacked-tor does not apply to this qube')
    return startStackedTor(context, mode, log)
  },
}
