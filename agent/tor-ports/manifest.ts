import { absolutePath, list, object, oneOf, optional, string, type Checked } from '../manifest/check'

// The `torPorts:` section of qubes.yaml: the gateway's Tor listeners, one table.

const torFlag = string({ pattern: /^[A-Za-z0-9]{1,40}$/ })

export const torListenerRow = object({
  /** One port or an inclusive run `FIRST-LAST`. */
  ports: string({ pattern: /^[0-9]{1,5}(-[0-9]{1,5})?$/ }),
  type: oneOf(['SocksPort', 'TransPort', 'DNSPort', 'HTTPTunnelPort', 'control-filter'] as const),
  flags: optional(list(torFlag, { unique: true })),
  on: list(oneOf(['loopback', 'internal'] as const), { min: 1, unique: true }),
  firewall: oneOf([
    'socks',
    'range',
    'transport',
    'dnsport',
    'gateway-transport',
    'gateway-dnsport',
    'control-filter',
  ] as const),
  label: string({ maxLength: 120 }),
})

export const torPortsSection = object({
  torrcFile: absolutePath,
  unixSocks: object({ path: absolutePath, flags: list(torFlag, { unique: true }) }),
  listeners: list(torListenerRow, { min: 1 }),
})

export type TorPortsManifest = Checked<typeof torPortsSection>
export type TorListenerRow = Checked<typeof torListenerRow>
