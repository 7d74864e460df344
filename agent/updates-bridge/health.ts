import type { AgentContext } from '../context'
import { inspectTinyproxyBlock } from '../tinyproxy/config'
import { describeBootstrap, type BootstrapPhase } from '../tor/bootstrap'
import { formatControlAddress } from '../tor/address'
import { TorReadinessMonitor } from '../tor/readiness'
import { torControlSettings } from '../tor/settings'
import { probeProxy } from '../updates-proxy/probe'

/** The answer of `whonix.UpdatesProxyStatus` and `updates-proxy health --json` (versioned). */
export interface GatewayHealth {
  readonly schema: 1
  readonly proxy: {
    readonly address: string
    readonly reachable: boolean
    readonly proof: boolean
    readonly status: number | null
    readonly error: string | null
  }
  readonly tor: {
    readonly control: string
    readonly ready: boolean
    readonly bootstrap: BootstrapPhase | null
    readonly error: string | null
  }
  readonly upstream: { readonly line: string; readonly configured: boolean; readonly error: string | null }
}

// The health answer must come quickly even when the proxy hangs.
const PROBE_LIMITS = { responseTimeoutMs: 3000, bodyTimeoutMs: 2000, maxBodyBytes: 64 * 1024 }

async function proxyHealth(context: AgentContext): Promise<GatewayHealth['proxy']> {
  const { gateway, check } = context.manifest.updatesProxy
  const address = `${gateway.proxy.host.includes(':') ? `[${gateway.proxy.host}]` : gateway.proxy.host}:${gateway.proxy.port}`
  const result = await probeProxy(new URL(`http://${address}/`), check.proofLine, gateway.notReadyHeader, PROBE_LIMITS)
  if (result.kind === 'failed') return { address, reachable: false, proof: false, status: null, error: result.error }
  return {
    address,
    reachable: true,
    proof: result.proof,
    status: result.status,
    error: result.proof ? null : 'its answer lacks the proof line (is our error page configured?)',
  }
}

/** Looks at the gateway's updates path: the proxy, Tor's bootstrap, tinyproxy's upstream. */
export async function gatewayHealth(context: AgentContext, monitor?: TorReadinessMonitor): Promise<GatewayHealth> {
  const settings = torControlSettings(context)
  const tor = monitor ?? new TorReadinessMonitor(settings)
  try {
    const [proxy, readiness, block] = await Promise.all([
      proxyHealth(context),
      tor.waitReady(0),
      inspectTinyproxyBlock(context),
    ])
    return {
      schema: 1,
      proxy,
      tor: {
        control: formatControlAddress(settings.address),
        ready: readiness.ready,
        bootstrap: readiness.phase,
        error: readiness.ready ? null : readiness.reason,
      },
      upstream: { line: context.manifest.updatesProxy.gateway.upstream, ...block },
    }
  } finally {
    if (!monitor) tor.close()
  }
}

/** One line for a person. */
export function summarizeHealth(health: GatewayHealth): string {
  const proxy = health.proxy.reachable
    ? `proxy ${health.proxy.address} answers${health.proxy.proof ? ' with the proof line' : ' WITHOUT the proof line'}`
    : `proxy ${health.proxy.address} unreachable (${health.proxy.error ?? '?'})`
  const tor = health.tor.ready
    ? 'Tor ready'
    : health.tor.bootstrap
      ? `Tor ${describeBootstrap(health.tor.bootstrap)}`
      : (health.tor.error ?? 'Tor state unknown')
  const upstream = health.upstream.configured
    ? `upstream ${health.upstream.line} configured`
    : `upstream not configured (${health.upstream.error ?? '?'})`
  return `${proxy}; ${tor}; ${upstream}`
}
