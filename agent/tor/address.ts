import { isIPv4, isIPv6 } from '../net/ip'
import { ManifestIssue, type Checker } from '../manifest/check'

/** Where Tor's control interface listens: a Unix socket (`unix:/run/tor/control`) or `HOST:PORT`. */
export type ControlAddress =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }

const TCP = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):([0-9]{1,5})$/

/** Parses a control address; `null` when it is not one. Only IP literals: no name lookup on the way to Tor. */
export function parseControlAddress(text: string): ControlAddress | null {
  if (text.startsWith('unix:')) {
    const path = text.slice('unix:'.length)
    // A Unix socket path holds at most 107 bytes (sun_path).
    return path.startsWith('/') && Buffer.byteLength(path) <= 107 && !path.includes('\0')
      ? { kind: 'unix', path }
      : null
  }
  const match = TCP.exec(text)
  if (!match) return null
  const host = match[1] ?? match[2] ?? ''
  const port = Number(match[3])
  if (!(isIPv4(host) || isIPv6(host)) || port < 1 || port > 65535) return null
  return { kind: 'tcp', host, port }
}

export function formatControlAddress(address: ControlAddress): string {
  if (address.kind === 'unix') return `unix:${address.path}`
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}

/** Manifest checker: `unix:/ABSOLUTE/PATH` or `IP:PORT` / `[IPv6]:PORT`. */
export const controlAddress: Checker<string> = (untrusted, at) => {
  if (typeof untrusted !== 'string' || parseControlAddress(untrusted) === null)
    throw new ManifestIssue(at, `${JSON.stringify(untrusted)} is not a Tor control address (unix:/PATH or IP:PORT)`)
  return untrusted
}

/** Moves a Unix socket under `--root` the way every other system path moves; TCP stays as it is. */
export function rerootControlAddress(address: ControlAddress, under: (systemPath: string) => string): ControlAddress {
  return address.kind === 'unix' ? { kind: 'unix', path: under(address.path) } : address
}
