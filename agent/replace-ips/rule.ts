/**
 * Upstream's replacement rule (docs/qubes-facts.md, IP replacement), line by line: an old address becomes the
 * new one wherever no digit follows it, and so does its network address (`.0` of the
 * same /24; for IPv6 the last group replaced by `:0`); comment lines stay as they are.
 *
 * Upstream applies one old→new pair after the other over the whole text; this applies
 * them all in one pass, the earlier pair winning where two match the same text. The
 * result is the same, except that text just written is never rewritten again (upstream
 * would turn a new address that equals a later pair's old one into that pair's new one).
 */
export interface AddressChange {
  readonly from: string
  readonly to: string
}

/** IPv4 addresses end at a decimal digit, IPv6 ones at a hex digit. */
const followingDigit = (address: string) => (address.includes(':') ? '[0-9A-Fa-f]' : '[0-9]')

const networkOf = (address: string) => {
  const separator = address.includes(':') ? ':' : '.'
  return `${address.slice(0, address.lastIndexOf(separator))}${separator}0`
}

/**
 * The changes that replacing `from` by `to` implies: the address, then its network. A pair
 * that changes nothing is kept: it claims its text, so a later entry cannot rewrite it.
 */
export function changesFor(from: string, to: string): AddressChange[] {
  return [
    { from, to },
    { from: networkOf(from), to: networkOf(to) },
  ]
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** A comment line: its first character other than white space (as the C locale's isspace) is `#`. */
const COMMENT_LINE = /^[ \t\v\f\r]*#/

/** Applies the changes to text (a string of bytes, latin1, so any file round-trips exactly). */
export function replaceAddresses(text: string, changes: readonly AddressChange[]): string {
  if (changes.every(({ from, to }) => from === to)) return text
  const pattern = new RegExp(
    changes.map(({ from }) => `(${escapeRegExp(from)})(?!${followingDigit(from)})`).join('|'),
    'g',
  )
  const replaceMatch = (...groups: unknown[]) => {
    const index = groups.slice(1, changes.length + 1).findIndex((group) => group !== undefined)
    return changes[index]?.to ?? String(groups[0])
  }
  return text
    .split('\n')
    .map((line) => (COMMENT_LINE.test(line) ? line : line.replace(pattern, replaceMatch)))
    .join('\n')
}
