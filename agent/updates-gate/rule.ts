import { join } from 'node:path'
import type { AgentContext } from '../context'
import type { Role } from '../role'
import { markerExistsSync } from '../role/facts'

/**
 * Where the gate takes the place of Qubes' forwarder: a Whonix template (the template marker
 * and a Whonix marker, each by role/facts.ts's one rule, as the units' conditions test them)
 * where Qubes' forwarder would listen (its Qubes service on, the updates proxy itself off).
 */
export function gateApplies(role: Role, context: AgentContext): boolean {
  const { paths, manifest } = context
  const { required, excluded } = manifest.updatesProxy.gate.qubesServices
  const whonixTemplate =
    markerExistsSync(join(paths.runQubes, manifest.qubes.typeMarkers.template)) &&
    (markerExistsSync(paths.gatewayMarker) || markerExistsSync(paths.workstationMarker))
  return role.qubes && whonixTemplate && role.services.includes(required) && !role.services.includes(excluded)
}

/** The address the gate listens on: where the check asks (updatesProxy.check.url). */
export function gateAddress(context: Pick<AgentContext, 'manifest'>): { readonly host: string; readonly port: number } {
  const url = new URL(context.manifest.updatesProxy.check.url)
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port || 80) }
}
