import { isIPv6 } from '../net/ip'

/** Where a forwarder listens, or where it connects to. */
export type Endpoint =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string }

export const tcpEndpoint = (host: string, port: number): Endpoint => ({ kind: 'tcp', host, port })
export const unixEndpoint = (path: string): Endpoint => ({ kind: 'unix', path })

/** `10.0.0.1:9050`, `[fd19::10]:9050` (an IPv6 address is bracketed), or the socket path. */
export function formatEndpoint(endpoint: Endpoint): string {
  if (endpoint.kind === 'unix') return endpoint.path
  return isIPv6(endpoint.host) ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`
}
