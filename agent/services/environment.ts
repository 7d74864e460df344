import type { Handler } from '../../rpc/call'
import type { RpcLog } from '../../rpc/call'
import type { AgentContext } from '../context'
import type { DaemonStatus } from '../daemon/status'
import type { Role } from '../role'

/** What the daemon gives each service's factory besides the context. */
export interface ServiceEnvironment {
  /** This qube's role, determined when the daemon started (again on SIGHUP). */
  readonly role: Role
  /** The daemon's live state: services served, parts and their status. */
  daemonStatus(): DaemonStatus
  readonly log: RpcLog
}

/** Builds a service's handler once, when the daemon starts serving it. */
export type HandlerFactory = (context: AgentContext, daemon: ServiceEnvironment) => Handler

/** Handler name (the `handler:` of a service in qubes.yaml) -> its factory, loaded when a service first needs it. */
export type HandlerTable = Readonly<Record<string, () => Promise<HandlerFactory>>>
