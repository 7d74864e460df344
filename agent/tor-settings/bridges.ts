import { CodedError } from '../../rpc/errors'
import { isIPv4, isIPv6 } from '../net/ip'

/** The pluggable transports a bridge line may name; a line without one is a plain bridge. */
export const TRANSPORTS = ['obfs4', 'snowflake', 'meek_lite', 'webtunnel'] as const
export type Transport = (typeof TRANSPORTS)[number]

/** One validated bridge: its line as Tor's `Bridge` takes it (single spaces, no `Bridge` word). */
export interface Bridge {
  /** The line's number in what the caller sent (1-based), for messages. */
  readonly number: number
  readonly transport: Transport | null
  readonly line: string
}

export interface BridgeLimits {
  readonly maxLines: number
  readonly maxLineBytes: number
}

const FINGERPRINT = /^[0-9A-Fa-f]{40}$/
const ARGUMENT = /^([A-Za-z][A-Za-z0-9_-]{0,31})=(\S+)$/
// Printable ASCII only; `#` starts a comment in torrc, `\` and `"` change how Tor reads a value.
const LINE_CHARACTERS = /^[\x20-\x7e\t]*$/
const SPECIAL = /[#\\"]/
// obfs4's cert is the 52-byte node ID and public key in unpadded base64: 70 characters.
const OBFS4_CERT = /^[A-Za-z0-9+/]{70}$/

/** What each transport requires of its key=value arguments. */
const REQUIRED: Readonly<Record<Transport, Readonly<Record<string, RegExp>>>> = {
  obfs4: { cert: OBFS4_CERT, 'iat-mode': /^[012]$/ },
  snowflake: {},
  meek_lite: { url: /^https?:\/\/\S+$/ },
  webtunnel: { url: /^https:\/\/\S+$/ },
}

const invalid = (number: number, why: string) =>
  new CodedError('BRIDGE_INVALID', `bridge line ${number}: ${why}`, { exitCode: 2 })

/** `IP:PORT` or `[IPv6]:PORT`, with a port in 1..65535. */
export function isBridgeAddress(untrusted: string): boolean {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):([0-9]{1,5})$/.exec(untrusted)
  if (!match) return false
  const port = Number(match[3])
  const host = match[1] ?? match[2] ?? ''
  return port >= 1 && port <= 65535 && (match[1] === undefined ? isIPv4(host) : isIPv6(host))
}

function checkArguments(number: number, transport: Transport, untrustedWords: readonly string[]): void {
  const seen = new Map<string, string>()
  for (const word of untrustedWords) {
    const match = ARGUMENT.exec(word)
    if (!match) throw invalid(number, `${JSON.stringify(word.slice(0, 40))} is not a KEY=VALUE argument`)
    seen.set(match[1] as string, match[2] as string)
  }
  for (const [key, pattern] of Object.entries(REQUIRED[transport])) {
    const value = seen.get(key)
    if (value === undefined) throw invalid(number, `${transport} needs ${key}=`)
    if (!pattern.test(value)) throw invalid(number, `${key}= of ${transport} is malformed`)
  }
}

/** Validates one line (already numbered); null for a blank line or a comment. */
export function parseBridgeLine(untrustedLine: string, number: number, limits: BridgeLimits): Bridge | null {
  const untrusted = untrustedLine.endsWith('\r') ? untrustedLine.slice(0, -1) : untrustedLine
  if (Buffer.byteLength(untrusted) > limits.maxLineBytes)
    throw invalid(number, `longer than ${limits.maxLineBytes} bytes`)
  if (!LINE_CHARACTERS.test(untrusted)) throw invalid(number, 'holds a character that is not printable ASCII')
  const trimmed = untrusted.trim()
  if (trimmed === '' || trimmed.startsWith('#')) return null
  if (SPECIAL.test(trimmed)) throw invalid(number, 'holds #, \\ or ", which Tor would read differently')
  const words = trimmed.split(/[ \t]+/)
  if (words[0]?.toLowerCase() === 'bridge') words.shift()
  const [first = '', ...rest] = words
  if (isBridgeAddress(first)) {
    if (rest.length > 1 || (rest[0] !== undefined && !FINGERPRINT.test(rest[0])))
      throw invalid(number, 'a plain bridge is IP:PORT [FINGERPRINT] (40 hexadecimal digits)')
    return { number, transport: null, line: words.join(' ') }
  }
  const transport = TRANSPORTS.find((name) => name === first)
  if (transport === undefined)
    throw invalid(
      number,
      `unknown transport ${JSON.stringify(first.slice(0, 32))} (known: ${TRANSPORTS.join(', ')}, or a plain IP:PORT)`,
    )
  const [address = '', ...more] = rest
  if (!isBridgeAddress(address)) throw invalid(number, `${transport} needs an IP:PORT address after it`)
  const hasFingerprint = more[0] !== undefined && FINGERPRINT.test(more[0])
  if (transport === 'obfs4' && !hasFingerprint)
    throw invalid(number, 'obfs4 needs the bridge fingerprint (40 hexadecimal digits) after the address')
  checkArguments(number, transport, hasFingerprint ? more.slice(1) : more)
  return { number, transport, line: words.join(' ') }
}

/**
 * Validates every line (blank lines and # comments are skipped but counted): a bad line is
 * named by its number and nothing is returned until all are good; count and size are bounded.
 */
export function parseBridgeLines(untrustedText: string, limits: BridgeLimits): Bridge[] {
  const bridges: Bridge[] = []
  const lines = untrustedText.split('\n')
  if (lines.at(-1) === '') lines.pop()
  lines.forEach((line, index) => {
    const bridge = parseBridgeLine(line, index + 1, limits)
    if (bridge === null) return
    bridges.push(bridge)
    if (bridges.length > limits.maxLines)
      throw new CodedError('BRIDGE_INVALID', `more than ${limits.maxLines} bridge lines`, { exitCode: 2 })
  })
  if (bridges.length === 0)
    throw new CodedError('BRIDGE_INVALID', 'no bridge lines were given (use `bridges clear` to use none)', {
      exitCode: 2,
    })
  return bridges
}

/** The transports the bridges use, each once, in a stable order. */
export const transportsOf = (bridges: readonly Pick<Bridge, 'transport'>[]): Transport[] =>
  TRANSPORTS.filter((name) => bridges.some((bridge) => bridge.transport === name))
