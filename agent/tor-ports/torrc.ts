import type { TorPortsManifest } from './manifest'
import { portRun } from './table'

/** Where the gateway's workstation-facing listeners bind: its internal addresses (qubesdb). */
export interface ListenAddresses {
  readonly ipv4: string
  /** Null when the gateway has no IPv6 address: then no IPv6 listener is written at all. */
  readonly ipv6: string | null
}

const line = (type: string, address: string, port: number, flags: readonly string[]) =>
  [type, `${address}:${port}`, ...flags].join(' ')

/**
 * The gateway's Tor listener configuration, generated from the ports table for this qube's
 * addresses: each row on loopback binds 127.0.0.1 (and [::1] when the gateway has IPv6, as
 * Whonix does), each row on internal binds the internal addresses. No text is rewritten.
 */
export function torListenerConfig(table: TorPortsManifest, addresses: ListenAddresses, header: string): string {
  const hosts = {
    loopback: ['127.0.0.1', ...(addresses.ipv6 === null ? [] : ['[::1]'])],
    internal: [addresses.ipv4, ...(addresses.ipv6 === null ? [] : [`[${addresses.ipv6}]`])],
  }
  const lines = [`SocksPort unix:${table.unixSocks.path} ${table.unixSocks.flags.join(' ')}`.trimEnd()]
  for (const row of table.listeners) {
    if (row.type === 'control-filter') continue
    const [first, last] = portRun(row)
    for (const side of row.on)
      for (let port = first; port <= last; port++)
        for (const host of hosts[side]) lines.push(line(row.type, host, port, row.flags ?? []))
  }
  return `${header
    .split('\n')
    .map((text) => `# ${text}`)
    .join('\n')}\n${lines.join('\n')}\n`
}
