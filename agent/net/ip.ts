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
