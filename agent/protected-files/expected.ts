import { isIPv4, isIPv6 } from '../net/ip'

/**
 * What Whonix expects in the files it protects, as pure checks of their content. Each
 * answers `null` when the content is as expected, else one line saying what is not.
 */
export type ContentProblem = string | null

const lines = (content: string) => content.split('\n').map((line) => line.replace(/\r$/, ''))
const uncommented = (content: string, comment = /#.*$/) =>
  lines(content)
    .map((line) => line.replace(comment, '').trim())
    .filter((line) => line !== '')

/** /etc/hostname: the one name every Whonix qube shares. */
export function checkHostname(content: string, expected: string): ContentProblem {
  const names = uncommented(content)
  if (names.length === 1 && names[0] === expected) return null
  return `holds ${JSON.stringify(names.join(' ').slice(0, 64))}, expected ${JSON.stringify(expected)}`
}

const isLoopback = (address: string) =>
  (isIPv4(address) && address.startsWith('127.')) || (isIPv6(address) && /^(::1|0:0:0:0:0:0:0:1)$/.test(address))

/**
 * /etc/hosts: each of `loopbackNames` maps to a loopback address, none of them to any
 * other address, and the qube's own name (which Qubes would add) appears nowhere.
 */
export function checkHosts(content: string, loopbackNames: readonly string[], qubeName: string | null): ContentProblem {
  const found: string[] = []
  const problems: string[] = []
  for (const line of uncommented(content)) {
    const [address = '', ...names] = line.split(/\s+/)
    for (const name of names) {
      if (loopbackNames.includes(name)) {
        if (isLoopback(address)) found.push(name)
        else problems.push(`${name} maps to ${address}`)
      }
      if (qubeName !== null && !loopbackNames.includes(qubeName) && name === qubeName)
        problems.push(`names this qube (${qubeName}) on the ${address} line`)
    }
  }
  const missing = loopbackNames.filter((name) => !found.includes(name))
  if (missing.length > 0) problems.unshift(`no loopback entry for ${missing.join(', ')}`)
  return problems.length === 0 ? null : problems.join('; ')
}

/** /etc/timezone: one of the accepted names of UTC. */
export function checkTimezone(content: string, zones: readonly string[]): ContentProblem {
  const names = uncommented(content)
  if (names.length === 1 && zones.includes(names[0] ?? '')) return null
  return `holds ${JSON.stringify(names.join(' ').slice(0, 64))}, expected ${zones.join(' or ')}`
}

/** /etc/localtime as a link: it leads to the zoneinfo file of one of the names of UTC. */
export function checkLocaltimeLink(
  resolvedSystemTarget: string,
  zoneinfoDirectory: string,
  zones: readonly string[],
): ContentProblem {
  if (zones.some((zone) => resolvedSystemTarget === `${zoneinfoDirectory}/${zone}`)) return null
  return `links to ${resolvedSystemTarget}, expected ${zones.map((zone) => `${zoneinfoDirectory}/${zone}`).join(' or ')}`
}

/** /etc/resolv.conf: at least one nameserver, and only the resolvers of this role. */
export function checkResolver(content: string, allowed: readonly string[]): ContentProblem {
  // resolv(5): a line starting with ';' or '#' is a comment.
  const servers = uncommented(content, /[;#].*$/)
    .map((line) => line.split(/\s+/))
    .filter(([keyword]) => keyword === 'nameserver')
    .map(([, address]) => address ?? '')
  if (servers.length === 0) return `names no nameserver; expected ${allowed.join(' or ')}`
  const foreign = servers.filter((server) => !allowed.includes(server))
  return foreign.length === 0 ? null : `uses ${foreign.join(', ')}; expected only ${allowed.join(' or ')}`
}
