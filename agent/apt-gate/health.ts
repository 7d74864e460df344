import type { AgentContext } from '../context'
import { probeProxy, type ProbeResult } from '../updates-proxy/probe'

const MAX_BODY_BYTES = 64 * 1024

/** What one look at the updates proxy says about the updates qube, in a line for the user (pure). */
export function describeProbe(result: ProbeResult, url: string, gatewayQube: string): string {
  if (result.kind === 'failed') {
    return result.refused
      ? `nothing answers at ${url}: the Qubes updates proxy forwarder is not running in this template.`
      : `no usable answer from ${url} (${result.error}): the updates qube may be starting, stopped or unreachable.`
  }
  if (result.notReady !== null) return `the updates qube is a Whonix-Gateway but not ready yet: ${result.notReady}.`
  if (result.proof)
    return `${url} answers as a Whonix-Gateway now: the check probably ran too early; check again (below).`
  return `${url} answers (HTTP ${result.status}) but not as a Whonix-Gateway: this template's updates go to a qube that is not ${gatewayQube}.`
}

/** The updates qube's health as far as a short, bounded request can tell; never throws. */
export async function updatesQubeHealth(context: AgentContext): Promise<string> {
  const { check, gateway } = context.manifest.updatesProxy
  const { healthTimeoutMs, help } = context.manifest.aptGate
  try {
    const result = await probeProxy(new URL(check.url), check.proofLine, gateway.notReadyHeader, {
      responseTimeoutMs: healthTimeoutMs,
      bodyTimeoutMs: healthTimeoutMs,
      maxBodyBytes: MAX_BODY_BYTES,
    })
    return describeProbe(result, check.url, help.gatewayQube)
  } catch (error) {
    return `the updates proxy could not be asked (${(error as Error).message}).`
  }
}
