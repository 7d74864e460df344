/**
 * IP address syntax checks. Node's `net.isIPv4/isIPv6` cost a module load and a very large
 * regular expression on every start; these small parsers accept the same text forms.
 */
const DECIMAL_OCTET = /^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$/
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/

export function isIPv4(text: string): boolean {
  const parts = text.split('.')
  return parts.length === 4 && parts.every((part) => DECIMAL_OCTET.test(part))
}

/** IPv6 in any RFC 4291 text form (`::` once, an embedded IPv4 tail), without a zone index. */
export function isIPv6(text: string): boolean {
  if (text.length < 2 || text.length > 45) return false
  const halves = text.split('::')
  if (halves.length > 2) return false
  const groupsOf = (half: string) => (half === '' ? [] : half.split(':'))
  const head = groupsOf(halves[0] ?? '')
  const tail = halves.length === 2 ? groupsOf(halves[1] ?? '') : []
  // An IPv4 tail ends the whole address: never the part before `::` (`1.2.3.4::`).
  const ending = halves.length === 2 ? tail : head
  let groups = head.length + tail.length
  if (ending.at(-1)?.includes('.')) {
    if (!isIPv4(ending.pop() as string)) return false
    groups += 1
  }
  if (![...head, ...tail].every((group) => HEX_GROUP.test(group))) return false
  return halves.length === 2 ? groups <= 7 : groups === 8
}

/** The 16 bytes of an address (IPv4 as its IPv4-mapped IPv6 form), or null when the text is no address. */
export function addressBytes(text: string): Uint8Array | null {
  if (isIPv4(text))
    return Uint8Array.from([...new Array<number>(10).fill(0), 0xff, 0xff, ...text.split('.').map(Number)])
  if (!isIPv6(text)) return null
  const [head = '', tail] = text.split('::')
  const groupsOf = (half: string) => (half === '' ? [] : half.split(':')).flatMap(groupValues)
  const before = groupsOf(head)
  const after = tail === undefined ? [] : groupsOf(tail)
  const groups = [...before, ...new Array<number>(8 - before.length - after.length).fill(0), ...after]
  return Uint8Array.from(groups.flatMap((group) => [group >> 8, group & 0xff]))
}

/** One text group as 16-bit values: a hex group is one, an IPv4 tail two. */
function groupValues(group: string): number[] {
  if (!group.includes('.')) return [Number.parseInt(group, 16)]
  const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number)
  return [(a << 8) | b, (c << 8) | d]
}

const isZero = (bytes: Uint8Array, from: number, to: number) => bytes.subarray(from, to).every((byte) => byte === 0)

/**
 * Whether connecting to `text` could reach this very machine: any loopback (127/8, ::1) or
 * unspecified address (0/8, ::), in any text form (IPv4-mapped, IPv4-compatible, zero-padded,
 * long or short), or one of `own`. Text that is no address counts as ours: it fails closed.
 */
export function isSelfAddress(text: string, own: readonly string[] = []): boolean {
  const bytes = addressBytes(text)
  if (bytes === null) return true
  const mapped = isZero(bytes, 0, 10) && bytes[10] === 0xff && bytes[11] === 0xff
  // ::/96 holds ::, ::1 and the deprecated IPv4-compatible forms (::127.0.0.1): none is a gateway.
  if (isZero(bytes, 0, 12)) return true
  if (mapped && (bytes[12] === 127 || bytes[12] === 0)) return true
  return own.some((address) => {
    const ours = addressBytes(address)
    return ours !== null && ours.every((byte, index) => byte === bytes[index])
  })
}
