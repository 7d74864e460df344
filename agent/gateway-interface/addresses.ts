import { isIPv4, isIPv6 } from '../net/ip'
import { CodedError } from '../../rpc/errors'

/**
 * The addresses of the gateway's internal interface, checked before they reach a command
 * line: qubesdb already guarantees their syntax; this refuses the values that make no
 * sense on an interface (unspecified, loopback, multicast, broadcast, a /0 netmask).
 */
export interface InterfaceAddresses {
  readonly ipv4: { readonly address: string; readonly prefix: number }
  readonly ipv6: { readonly address: string; readonly prefix: 128 } | null
}

const octets = (address: string) => address.split('.').map(Number)

export function netmaskPrefix(untrustedNetmask: string): number {
  if (!isIPv4(untrustedNetmask))
    throw new CodedError(
      'BAD_ADDRESS',
      `netmask ${JSON.stringify(untrustedNetmask.slice(0, 64))} is not an IPv4 netmask`,
    )
  const bits = octets(untrustedNetmask).reduce((value, octet) => value * 256 + octet, 0)
  const prefix = bits.toString(2).padStart(32, '0').indexOf('0')
  const length = prefix === -1 ? 32 : prefix
  if (bits !== 2 ** 32 - 2 ** (32 - length))
    throw new CodedError('BAD_ADDRESS', `netmask ${untrustedNetmask} is not contiguous`)
  if (length === 0)
    throw new CodedError('BAD_ADDRESS', 'netmask 0.0.0.0 would claim every address for the internal interface')
  return length
}

export function checkInterfaceIpv4(untrustedAddress: string): string {
  if (!isIPv4(untrustedAddress))
    throw new CodedError('BAD_ADDRESS', `${JSON.stringify(untrustedAddress.slice(0, 64))} is not an IPv4 address`)
  const [first = 0] = octets(untrustedAddress)
  if (first === 0 || first === 127 || first >= 224)
    throw new CodedError(
      'BAD_ADDRESS',
      `${untrustedAddress} cannot be the internal interface's address (unspecified, loopback, multicast or reserved)`,
    )
  return untrustedAddress
}

export function checkInterfaceIpv6(untrustedAddress: string): string {
  if (!isIPv6(untrustedAddress) || untrustedAddress.includes('%'))
    throw new CodedError('BAD_ADDRESS', `${JSON.stringify(untrustedAddress.slice(0, 64))} is not an IPv6 address`)
  const lower = untrustedAddress.toLowerCase()
  if (lower === '::' || lower === '::1' || lower.startsWith('ff') || lower.startsWith('::ffff:') || lower.includes('.'))
    throw new CodedError(
      'BAD_ADDRESS',
      `${untrustedAddress} cannot be the internal interface's address (unspecified, loopback, multicast or IPv4-mapped)`,
    )
  // The canonical form (RFC 5952), as `ip` prints it: so an existing address is recognised.
  return new URL(`http://[${untrustedAddress}]/`).hostname.slice(1, -1)
}

export function checkInterfaceAddresses(untrusted: {
  ipv4: string
  netmask: string
  ipv6: string | null
}): InterfaceAddresses {
  return {
    ipv4: { address: checkInterfaceIpv4(untrusted.ipv4), prefix: netmaskPrefix(untrusted.netmask) },
    ipv6: untrusted.ipv6 === null ? null : { address: checkInterfaceIpv6(untrusted.ipv6), prefix: 128 },
  }
}
