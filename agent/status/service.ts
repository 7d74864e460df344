import { jsonHandler } from '../../rpc/json'
import { currentStatus } from '.'
import type { HandlerFactory } from '../services/environment'

/** whonix.Status: the status JSON of `status --json`, with the daemon's live parts. */
export const statusService: HandlerFactory = (context, daemon) =>
  jsonHandler(() => currentStatus(context, daemon.role, daemon.daemonStatus()))
