import { CodedError } from '../../rpc/errors'
import type { Command } from '../run'
import type { InterfaceAddresses } from './addresses'

/**
 * The `ip` (iproute2) command lines that inspect and build the gateway's internal
 * interface, as data, and the reading of `ip -json` output.
 */
export interface IpTool {
  readonly program: string
  readonly timeoutMs: number
  /** The link type created (`ip link add NAME type KIND`). */
  readonly kind: string
}

const MAX_OUTPUT_BYTES = 256 * 1024

const ip = (tool: IpTool, ...args: string[]): Command => ({
  argv: [tool.program, ...args],
  timeoutMs: tool.timeoutMs,
  maxOutputBytes: MAX_OUTPUT_BYTES,
})

export const showInterface = (tool: IpTool, name: string) =>
  ip(tool, '-json', '-details', 'address', 'show', 'dev', name)
export const addLink = (tool: IpTool, name: string) => ip(tool, 'link', 'add', name, 'type', tool.kind)
export const addAddress = (tool: IpTool, name: string, family: 4 | 6, cidr: string) =>
  ip(tool, `-${family}`, 'address', 'add', cidr, 'dev', name)
export const setUp = (tool: IpTool, name: string) => ip(tool, 'link', 'set', 'dev', name, 'up')

/** What `ip -json -details address show` says about one interface. */
export interface InterfaceState {
  readonly kind: string | null
  readonly up: boolean
  /** `ADDRESS/PREFIX`, as `ip address add` takes them. */
  readonly addresses: readonly string[]
}

export function parseInterfaceState(untrustedJson: string, name: string): InterfaceState {
  let untrusted: unknown
  try {
    untrusted = JSON.parse(untrustedJson)
  } catch {
    throw new CodedError('IP_OUTPUT', `ip printed no JSON for ${name}`)
  }
  const entry = Array.isArray(untrusted) && untrusted.length === 1 ? (untrusted[0] as Record<string, unknown>) : null
  if (entry === null || typeof entry !== 'object' || entry.ifname !== name)
    throw new CodedError('IP_OUTPUT', `ip did not describe ${name}`)
  const linkinfo = entry.linkinfo as { info_kind?: unknown } | undefined
  const flags = Array.isArray(entry.flags) ? entry.flags : []
  const addrInfo = Array.isArray(entry.addr_info) ? (entry.addr_info as { local?: unknown; prefixlen?: unknown }[]) : []
  return {
    kind: typeof linkinfo?.info_kind === 'string' ? linkinfo.info_kind : null,
    up: flags.includes('UP'),
    addresses: addrInfo
      .filter((info) => typeof info.local === 'string' && typeof info.prefixlen === 'number')
      .map((info) => `${info.local as string}/${info.prefixlen as number}`),
  }
}

/** The commands that take the interface from `state` (null: it does not exist) to what the gateway needs. */
export function commandsFor(
  tool: IpTool,
  name: string,
  state: InterfaceState | null,
  wanted: InterfaceAddresses,
): Command[] {
  const wantedAddresses: [4 | 6, string][] = [[4, `${wanted.ipv4.address}/${wanted.ipv4.prefix}`]]
  if (wanted.ipv6 !== null) wantedAddresses.push([6, `${wanted.ipv6.address}/${wanted.ipv6.prefix}`])
  const present = new Set(state?.addresses ?? [])
  return [
    ...(state === null ? [addLink(tool, name)] : []),
    ...wantedAddresses
      .filter(([, cidr]) => !present.has(cidr))
      .map(([family, cidr]) => addAddress(tool, name, family, cidr)),
    ...(state?.up ? [] : [setUp(tool, name)]),
  ]
}
