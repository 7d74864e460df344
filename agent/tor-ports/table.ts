import { CodedError } from '../../rpc/errors'
import type { TorListenerRow, TorPortsManifest } from './manifest'

/**
 * The ports the firewall needs from the table: what it opens and redirects must be what
 * Tor (or the control port filter) listens on, so both come from these rows.
 */
export interface FirewallPorts {
  /** Single SOCKS ports, in table order: INTERNAL_OPEN_PORTS' built-in part. */
  readonly socks: readonly number[]
  /** The span opened and redirected as one (`FIRST-LAST`). */
  readonly range: string
  readonly transPort: number
  readonly dnsPort: number
  readonly gatewayTransPort: number
  readonly gatewayDnsPort: number
  readonly controlFilter: number
}

export function portRun(row: Pick<TorListenerRow, 'ports'>): [number, number] {
  const [first = 0, last = first] = row.ports.split('-').map(Number)
  if (first < 1 || last > 65535 || last < first)
    throw new CodedError('TOR_PORTS_INVALID', `torPorts: ${row.ports} is not a port or an increasing run of ports`)
  return [first, last]
}

const portsOf = (row: TorListenerRow) => {
  const [first, last] = portRun(row)
  return Array.from({ length: last - first + 1 }, (_, index) => first + index)
}

function single(rows: readonly TorListenerRow[], role: TorListenerRow['firewall']): number {
  const ports = [...new Set(rows.filter((row) => row.firewall === role).flatMap(portsOf))]
  if (ports.length !== 1)
    throw new CodedError(
      'TOR_PORTS_INVALID',
      `torPorts: exactly one port must have firewall: ${role} (found ${ports.length})`,
    )
  return ports[0] as number
}

function span(rows: readonly TorListenerRow[]): string {
  const ports = [...new Set(rows.filter((row) => row.firewall === 'range').flatMap(portsOf))].sort((a, b) => a - b)
  const first = ports[0]
  const last = ports.at(-1)
  if (first === undefined || last === undefined)
    throw new CodedError('TOR_PORTS_INVALID', 'torPorts: no firewall: range rows')
  // The firewall opens FIRST-LAST as one span: a hole would open a port nothing listens on.
  if (last - first + 1 !== ports.length)
    throw new CodedError('TOR_PORTS_INVALID', `torPorts: the firewall: range rows ${first}-${last} have holes`)
  return `${first}-${last}`
}

export function firewallPorts(table: TorPortsManifest): FirewallPorts {
  const rows = table.listeners
  const socks = [
    ...new Set(rows.filter((row) => row.firewall === 'socks' && row.on.includes('internal')).flatMap(portsOf)),
  ]
  return {
    socks,
    range: span(rows),
    transPort: single(rows, 'transport'),
    dnsPort: single(rows, 'dnsport'),
    gatewayTransPort: single(rows, 'gateway-transport'),
    gatewayDnsPort: single(rows, 'gateway-dnsport'),
    controlFilter: single(rows, 'control-filter'),
  }
}

/** Every port something of the table listens on for workstations (internal side). */
export function internalPorts(table: TorPortsManifest): ReadonlySet<number> {
  return new Set(table.listeners.filter((row) => row.on.includes('internal')).flatMap(portsOf))
}
