import { CodedError } from '../../rpc/errors'
import type { HandlerFactory } from './environment'
import { roleService } from './role'
import { setDateTimeService } from './set-date-time'
import { statusService } from './status'
import { syncNtpClockService } from './sync-ntp-clock'
import { closeSharedTorMonitors, updatesProxyService, updatesProxyStatusService } from '../updates-proxy/services'
import { updatesProxyCheckService } from '../updates-proxy/recheck'
import { torService } from '../tor-settings/service'

export type { HandlerFactory, ServiceEnvironment } from './environment'

/**
 * Handler name (the `handler:` of a service in qubes.yaml) -> its factory. A feature adds
 * a service with one line here and one entry under `services.table` in qubes.yaml.
 */
export const HANDLERS: Readonly<Record<string, HandlerFactory>> = {
  role: roleService,
  status: statusService,
  'set-date-time': setDateTimeService,
  'sync-ntp-clock': syncNtpClockService,
  'updates-proxy': updatesProxyService,
  'updates-proxy-status': updatesProxyStatusService,
  'updates-proxy-check': updatesProxyCheckService,
  tor: torService,
}

export function handlerFactory(name: string, handlers: Readonly<Record<string, HandlerFactory>> = HANDLERS): HandlerFactory {
  const factory = Object.hasOwn(handlers, name) ? handlers[name] : undefined
  if (!factory) throw new CodedError('UNKNOWN_HANDLER', `no service handler named ${JSON.stringify(name)} (known: ${Object.keys(handlers).join(', ')})`)
  return factory
}

/** Frees what handlers share across calls (connections kept open), once nothing is served any more. */
export function releaseSharedResources(): void {
  closeSharedTorMonitors()
}
