import type { RpcLog } from '../../rpc/call'
import { errorMessage } from '../../rpc/errors'
import type { AgentContext } from '../context'
import type { Role } from '../role'
import { namedLog } from './log'
import { NO_PASSED_SOCKETS, type PassedSockets } from './passed'

/**
 * Long-running parts of the daemon that are not qrexec services (listed in agent/features.ts). The daemon starts every part that applies to this qube's role, stops
 * them on SIGTERM (and restarts them on SIGHUP), and puts their status() in `status` and
 * `whonix.Status` under `daemon.parts.NAME`.
 */
export interface DaemonPart {
  /** Stable, lower-case with dashes: the key in status and the prefix of its log lines. */
  readonly name: string
  appliesTo(role: Role, context: AgentContext): boolean
  /** Names (FileDescriptorName=) of the listening sockets systemd passes for this part. */
  readonly sockets?: readonly string[]
  /** Resolves once the part runs (or has decided not to: say why in status()). A rejection is logged and reported; the daemon keeps running. */
  start(context: AgentContext, role: Role, log: RpcLog, passed: PassedSockets): Promise<RunningPart>
}

export interface RunningPart {
  /** Stops listening and closes what it opened; must settle within the daemon's drain bound. */
  stop(): Promise<void>
  /** JSON-serialisable, cheap (called on every `status` request). */
  status(): unknown
}

export type PartState =
  { readonly state: 'running'; readonly status: unknown } | { readonly state: 'failed'; readonly error: string }

export interface StartedParts {
  status(): Record<string, PartState>
  stop(): Promise<void>
}

/** Starts the parts that apply, side by side; one failing does not stop the others. */
export async function startParts(
  parts: readonly DaemonPart[],
  context: AgentContext,
  role: Role,
  log: RpcLog,
  passed: PassedSockets = NO_PASSED_SOCKETS,
): Promise<StartedParts> {
  const applicable = parts.filter((part) => part.appliesTo(role, context))
  const results = await Promise.allSettled(
    applicable.map((part) => part.start(context, role, namedLog(log, part.name), passed)),
  )
  const running = new Map<string, RunningPart>()
  const failed = new Map<string, string>()
  results.forEach((result, index) => {
    const name = applicable[index]?.name ?? '?'
    if (result.status === 'fulfilled') running.set(name, result.value)
    else {
      failed.set(name, errorMessage(result.reason))
      log.error(`${name}: could not start: ${errorMessage(result.reason)}`)
    }
  })
  return {
    status() {
      const states: Record<string, PartState> = {}
      for (const [name, error] of failed) states[name] = { state: 'failed', error }
      for (const [name, part] of running) {
        try {
          states[name] = { state: 'running', status: part.status() }
        } catch (error) {
          states[name] = { state: 'failed', error: `status: ${errorMessage(error)}` }
        }
      }
      return states
    },
    async stop() {
      await Promise.all(
        [...running].map(([name, part]) =>
          part.stop().catch((error: unknown) => log.error(`${name}: stop failed: ${errorMessage(error)}`)),
        ),
      )
      running.clear()
    },
  }
}
