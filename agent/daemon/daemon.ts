import { join } from 'node:path'
import type { RpcLog } from '../../rpc/call'
import { CodedError, errorMessage } from '../../rpc/errors'
import { jsonHandler } from '../../rpc/json'
import { socketsFromSystemd } from '../../rpc/listen'
import { serviceEndpoint } from '../../rpc/server'
import type { AgentContext } from '../context'
import { currentRole, type Role } from '../role'
import { handlerFactory, type HandlerTable, type ServiceEnvironment } from '../services/registry'
import { servicesFor } from '../services/table'
import { startMemoryRelease, type MemoryReleaseLimits, type MemorySource } from './memory-release'
import { startParts, type DaemonPart, type StartedParts } from './parts'
import { namedLog } from './log'
import { PassedSockets } from './passed'
import { CONTROL_SERVICE, CONTROL_SOCKET_NAMES } from './query'
import { SocketTable } from './sockets'
import type { DaemonStatus } from './status'

// qrexec-agent (root) connects; nobody else may write to a service socket.
const SERVICE_SOCKET_MODE = 0o660
// Anyone on the qube may read the daemon's status (as `status` does); it changes nothing.
// Root has a socket of its own, with its own slots (query.ts says why).
const CONTROL_SOCKET_MODES: Readonly<Record<(typeof CONTROL_SOCKET_NAMES)[number], number>> = {
  control: 0o666,
  'control-root': 0o600,
}
const CONTROL_LIMITS = { descriptorTimeoutMs: 1000, totalTimeoutMs: 5000, maxInputBytes: 0, maxConcurrent: 8 }

export interface DaemonOptions {
  readonly log: RpcLog
  /** Read once for LISTEN_FDS (socket activation); the variables are removed from it. */
  readonly env: NodeJS.ProcessEnv
  /** From agent/features.ts (tests pass their own). */
  readonly handlers: HandlerTable
  readonly parts: readonly DaemonPart[]
  /** Frees what handlers share across calls (connections kept open), once nothing is served any more. */
  readonly releaseShared?: () => void
  /** The process's heap (process-memory.ts): memory is given back after bursts. */
  readonly memory?: MemorySource
}

export interface RunningDaemon {
  status(): DaemonStatus
  /** The role the daemon serves (determined at start and on reload). */
  role(): Role
  /** Serves what a new context (manifest, role) asks for; calls already open finish as they were. */
  reload(context: AgentContext): Promise<void>
  /** Stops accepting, lets open calls finish up to the manifest's drain bound, cuts the rest, stops the parts. */
  stop(graceMs?: number): Promise<void>
}

/** A socket systemd passed for a service this qube's role does not serve answers so, instead of hanging. */
const notServedHere = (name: string, role: Role) =>
  jsonHandler(() => {
    throw new CodedError(
      'SERVICE_NOT_SERVED',
      `${name} is not served on this qube (role: ${role.whonix ?? 'not Whonix'}, ${role.class ?? 'unknown class'})`,
    )
  })

function memoryLimits(context: AgentContext): MemoryReleaseLimits {
  const { quietMs, minGrowthKiB } = context.manifest.services.memoryRelease
  return { quietMs, minGrowthBytes: minGrowthKiB * 1024 }
}

export async function startDaemon(initial: AgentContext, options: DaemonOptions): Promise<RunningDaemon> {
  const { log } = options
  const { handlers } = options
  const activation = socketsFromSystemd(options.env)
  // A part's socket is the part's: the qrexec socket table never answers on it.
  const partSocketNames = new Set(options.parts.flatMap((part) => part.sockets ?? []))
  const byOwner = (ofPart: boolean) => new Map([...activation].filter(([name]) => partSocketNames.has(name) === ofPart))
  const passed = new PassedSockets(byOwner(true), activation.size > 0)
  const sockets = new SocketTable(byOwner(false), log)
  const since = new Date().toISOString()
  let served: string[] = []
  let currentRoleOf: Role | undefined
  let parts: StartedParts | undefined
  let stopping: Promise<void> | undefined
  const memory =
    options.memory &&
    startMemoryRelease(options.memory, {
      ...memoryLimits(initial),
      released: (freedBytes, quietMs) =>
        log.debug(`memory: quiet for ${quietMs} ms, a full collection freed ${Math.round(freedBytes / 1024)} KiB`),
    })

  const status = (): DaemonStatus => ({
    running: true,
    pid: process.pid,
    since,
    services: served,
    parts: parts?.status() ?? {},
    ...(memory ? { memory: memory.status() } : {}),
  })

  async function apply(context: AgentContext): Promise<void> {
    const role = await currentRole(context)
    currentRoleOf = role
    const environment: ServiceEnvironment = { role, daemonStatus: status, log }
    const specs = servicesFor(context.manifest.services, role)
    // Every factory runs before anything changes: an unknown handler leaves the old set serving.
    const built = await Promise.all(
      specs.map(async (spec) => ({
        spec,
        handler: (await handlerFactory(spec.entry.handler, handlers))(context, environment),
      })),
    )
    const wanted = new Set(specs.map((spec) => spec.name))
    for (const name of sockets.names()) {
      if (!(CONTROL_SOCKET_NAMES as readonly string[]).includes(name) && !wanted.has(name))
        await sockets.release(name, serviceEndpoint({ name, handler: notServedHere(name, role) }, log))
    }
    for (const { spec, handler } of built) {
      await sockets.serve(
        spec.name,
        serviceEndpoint({ name: spec.name, handler, limits: spec.limits }, log),
        join(context.paths.qrexecSocketDir, spec.name),
        SERVICE_SOCKET_MODE,
      )
    }
    for (const name of CONTROL_SOCKET_NAMES) {
      const control = serviceEndpoint(
        { name: CONTROL_SERVICE, handler: jsonHandler(status), limits: CONTROL_LIMITS },
        namedLog(log, name),
      )
      await sockets.serve(name, control, join(context.paths.agentRunDir, name), CONTROL_SOCKET_MODES[name])
    }
    for (const name of sockets.unclaimedActivations())
      await sockets.serve(
        name,
        serviceEndpoint({ name, handler: notServedHere(name, role) }, log),
        '',
        SERVICE_SOCKET_MODE,
      )
    served = [...wanted].sort()
    await parts?.stop()
    parts = await startParts(options.parts, context, role, log, passed)
    log.info(
      `serving ${served.length === 0 ? 'no services' : served.join(', ')} (role: ${role.whonix ?? 'not Whonix'} ${role.class ?? 'unknown class'})`,
    )
  }

  let drainMs = initial.manifest.services.drainTimeoutMs
  try {
    await apply(initial)
  } catch (error) {
    // No daemon to stop later: what watches the heap ends with the failed start.
    memory?.stop()
    throw error
  }
  return {
    status,
    role: () => currentRoleOf as Role,
    async reload(context) {
      if (stopping) return
      try {
        await apply(context)
        drainMs = context.manifest.services.drainTimeoutMs
        memory?.retune(memoryLimits(context))
      } catch (error) {
        log.error(`reload failed, still serving as before: ${errorMessage(error)}`)
        throw error
      }
    },
    stop(graceMs = drainMs) {
      // A stop asked again with no grace (a second SIGTERM) cuts what the first one waits for.
      if (stopping && graceMs === 0) sockets.hurry()
      stopping ??= (async () => {
        log.info(`stopping: open calls get ${graceMs} ms`)
        await Promise.all([sockets.close(graceMs), parts?.stop()])
        await passed.close()
        memory?.stop()
        options.releaseShared?.()
        log.info('stopped')
      })()
      return stopping
    },
  }
}
