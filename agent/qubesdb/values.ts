import { isIPv4, isIPv6 } from '../net/ip'

/**
 * Validation of values read from qubesdb. Everything qubesdb returns is untrusted: a
 * value is used only after the rule for its key accepts it.
 */
export type ValueCheck = { ok: true; value: string } | { ok: false; reason: string }

const IPV4_KEYS = new Set([
  '/qubes-ip',
  '/qubes-gateway',
  '/qubes-primary-dns',
  '/qubes-secondary-dns',
  '/qubes-netvm-gateway',
  '/qubes-netvm-network',
  '/qubes-netvm-primary-dns',
  '/qubes-netvm-secondary-dns',
])
const NETMASK_KEYS = new Set(['/qubes-netmask', '/qubes-netvm-netmask'])
const IPV6_KEYS = new Set(['/qubes-ip6', '/qubes-gateway6', '/qubes-netvm-gateway6'])

export const ENUMERATIONS: Readonly<Record<string, readonly string[]>> = {
  '/qubes-vm-type': ['TemplateVM', 'AppVM', 'ProxyVM', 'NetVM'],
  '/type': ['AppVM', 'DispVM', 'TemplateVM', 'StandaloneVM'],
  '/qubes-vm-persistence': ['full', 'rw-only', 'none'],
}

const QUBE_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,30}$/
export const QUBES_SERVICE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/
export const QUBESDB_KEY = /^(\/(?!\.\.?(\/|$))[A-Za-z0-9_.-]+)+$/

function isNetmask(value: string): boolean {
  if (!isIPv4(value)) return false
  const bits = value.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0)
  // A netmask is ones followed by zeros: its inverse plus one is a power of two.
  const inverse = 0xffffffff - bits
  return (inverse & (inverse + 1)) === 0
}

function ruleFor(key: string): { describe: string; accepts: (value: string) => boolean } {
  if (IPV4_KEYS.has(key)) return { describe: 'an IPv4 address', accepts: isIPv4 }
  if (IPV6_KEYS.has(key)) return { describe: 'an IPv6 address', accepts: isIPv6 }
  if (NETMASK_KEYS.has(key)) return { describe: 'an IPv4 netmask', accepts: isNetmask }
  const choices = ENUMERATIONS[key]
  if (choices) return { describe: `one of ${choices.join(', ')}`, accepts: (value) => choices.includes(value) }
  if (key === '/name') return { describe: 'a qube name', accepts: (value) => QUBE_NAME.test(value) }
  if (key.startsWith('/qubes-service/'))
    return { describe: '0 or 1', accepts: (value) => value === '0' || value === '1' }
  return { describe: 'printable text', accepts: () => true }
}

/** Checks the raw output of `qubesdb-read KEY` (one trailing newline allowed) against the key's rule. */
export function checkQubesdbValue(key: string, untrustedOutput: string, maxValueBytes: number): ValueCheck {
  if (Buffer.byteLength(untrustedOutput) > maxValueBytes + 1)
    return { ok: false, reason: `longer than ${maxValueBytes} bytes` }
  const untrustedValue = untrustedOutput.endsWith('\n') ? untrustedOutput.slice(0, -1) : untrustedOutput
  // eslint-disable-next-line no-control-regex
  if (/[\0-\x1f\x7f]/.test(untrustedValue)) return { ok: false, reason: 'contains a control character or a line break' }
  if (untrustedValue.includes('\ufffd')) return { ok: false, reason: 'is not valid UTF-8' }
  const rule = ruleFor(key)
  if (!rule.accepts(untrustedValue))
    return { ok: false, reason: `${JSON.stringify(untrustedValue.slice(0, 64))} is not ${rule.describe}` }
  return { ok: true, value: untrustedValue }
}
