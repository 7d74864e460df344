/** Pieces both roles' scripts share, in nft's `add ...` command form, one command a line. */

export const SHEBANG = '#!/usr/sbin/nft -f'

/** Adding, deleting and re-adding each table: loading the script replaces them in one transaction. */
export const replaceTables = (tables: readonly string[]): string[] => [
  ...tables.map((table) => `add table ${table}`),
  ...tables.map((table) => `delete table ${table}`),
  ...tables.map((table) => `add table ${table}`),
]

export const filterChains = (): string[] =>
  ['input', 'forward', 'output'].map(
    (chain) => `add chain inet filter ${chain} { type filter hook ${chain} priority 0; policy drop; }`,
  )

const MALFORMED = [
  'ct state invalid',
  'tcp flags & (fin|syn|rst|psh|ack|urg) == fin|syn|rst|ack',
  'tcp flags & (fin|syn) == fin|syn',
  'tcp flags & (syn|rst) == syn|rst',
  'ip frag-off & 0x1fff != 0',
  'tcp flags & (fin|syn|rst|psh|ack|urg) == fin|syn|rst|psh|ack|urg',
  'tcp flags & (fin|syn|rst|psh|ack|urg) == 0x0',
]

/** Invalid and malformed packets: dropped inbound, rejected outbound. */
export const malformed = (chain: 'input' | 'output', verdict: 'drop' | 'reject'): string[] =>
  MALFORMED.map((match) => `add rule inet filter ${chain} ${match} counter ${verdict}`)

export const neighbourDiscovery = (chain: 'input' | 'output') =>
  `add rule inet filter ${chain} icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect } counter accept`

/** Split a whitespace list setting (already checked). */
export const items = (value: string): string[] => value.split(' ').filter(Boolean)

/** The loopback rejects of timesync mode: every local SOCKS port but sdwdate's. */
export const timesyncLoopbackRejects = (ports: readonly string[], exempt: string): string[] =>
  ports
    .filter((port) => port !== exempt)
    .flatMap((port) => [
      `add rule inet filter output ip daddr 127.0.0.1 tcp dport ${port} counter reject`,
      `add rule inet filter output ip6 daddr ::1 tcp dport ${port} counter reject`,
    ])

/** sdwdate's port: the one SOCKS port timesync mode leaves open on loopback. */
export const SDWDATE_SOCKS_PORT = '9108'
