import type { Handler } from '../../rpc/call'
import { jsonHandler } from '../../rpc/json'
import { refusalLog } from '../../rpc/refusal-log'
import type { AgentContext } from '../context'
import type { HandlerFactory } from '../services/environment'
import { formatControlAddress } from '../tor/address'
import { TorReadinessMonitor } from '../tor/readiness'
import { torControlSettings } from '../tor/settings'
import { bridgeCall, bridgeFailureAnswer } from './bridge'
import { gatewayHealth } from './health'

// One monitor per Tor control address for the daemon's life: a reload (SIGHUP) that builds
// the handlers again keeps the connection and what it knows.
const monitors = new Map<string, TorReadinessMonitor>()

export function sharedTorMonitor(context: AgentContext): TorReadinessMonitor {
  const settings = torControlSettings(context)
  const key = `${formatControlAddress(settings.address)} ${settings.cookieFile ?? ''}`
  let monitor = monitors.get(key)
  if (!monitor) {
    monitor = new TorReadinessMonitor(settings)
    monitors.set(key, monitor)
  }
  return monitor
}

/** Closes every shared monitor's connection: the daemon stops, and an open one would keep it alive. */
export function closeSharedTorMonitors(): void {
  for (const monitor of monitors.values()) monitor.close()
  monitors.clear()
}

/** qubes.UpdatesProxy on the gateway: each call bridged to tinyproxy once Tor is ready. */
export const updatesProxyService: HandlerFactory = (context, daemon): Handler => {
  const { gateway } = context.manifest.updatesProxy
  const monitor = sharedTorMonitor(context)
  const options = {
    host: gateway.proxy.host,
    port: gateway.proxy.port,
    connectTimeoutMs: gateway.connectTimeoutMs,
    maxRequestLineBytes: gateway.maxRequestLineBytes,
    requestHeadTimeoutMs: gateway.requestHeadTimeoutMs,
    notReadyHeader: gateway.notReadyHeader,
    torReady: () => monitor.ready,
    waitForTor: (signal: AbortSignal) => monitor.waitReady(gateway.torReadyTimeoutMs, signal),
    note: refusalLog(daemon.log),
  }
  return {
    serve: (call) => bridgeCall(call, options),
    failureAnswer: (error) => bridgeFailureAnswer(error, gateway.notReadyHeader),
  }
}

/** whonix.UpdatesProxyStatus on the gateway: the health of the updates path as JSON. */
export const updatesProxyStatusService: HandlerFactory = (context) => {
  const monitor = sharedTorMonitor(context)
  return jsonHandler(() => gatewayHealth(context, monitor))
}
