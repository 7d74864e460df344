import { isIPv4, isIPv6 } from '../net/ip'
import { integer, ManifestIssue, object, string, type Checker } from './check'

// Manifest checkers several sections share.

/** An `http://` URL of an IP literal (no name lookup in the check), with a port and a path. */
export const httpUrl: Checker<string> = (untrusted, at) => {
  const text = string({ maxLength: 2048 })(untrusted, at)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new ManifestIssue(at, `${JSON.stringify(text)} is not a URL`)
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  if (url.protocol !== 'http:' || !(isIPv4(host) || isIPv6(host)) || url.username || url.password)
    throw new ManifestIssue(at, `${JSON.stringify(text)} must be http:// to an IP address, without credentials`)
  return text
}

/** A file mode written as an octal string, `'0755'`. */
export const fileMode: Checker<number> = (untrusted, at) => {
  const text = string({ pattern: /^0[0-7]{3}$/ })(untrusted, at)
  return Number.parseInt(text, 8)
}

// The one unit-name pattern: systemd's characters (letters, digits, `:_.\-`, `@` of a template) and a unit type.
const UNIT_NAME = /^[A-Za-z0-9:_.\\@-]+\.(service|target|socket|timer|mount|path)$/

/** A systemd unit name of any type the agent orders itself against. */
export const unitName: Checker<string> = string({ pattern: UNIT_NAME, maxLength: 255 })

/** A `.service` unit name. */
export const serviceUnitName: Checker<string> = (untrusted, at) => {
  const name = unitName(untrusted, at)
  if (!name.endsWith('.service')) throw new ManifestIssue(at, `${JSON.stringify(name)} is not a .service unit`)
  return name
}

/** An octal mode as text that may carry the setgid/sticky digit ('0666', '2755'): YAML would read a bare 0666 as decimal. */
export const octalMode: Checker<number> = (untrusted, at) =>
  Number.parseInt(string({ pattern: /^[0-7]?[0-7]{3}$/ })(untrusted, at), 8)

/** A Unix user (or group) name as Debian's adduser accepts it by default. */
export const userName: Checker<string> = string({ pattern: /^[a-z_][a-z0-9_-]{0,31}$/ })

export const tcpEndpoint = object({
  host: (untrusted, at) => {
    const host = string({ maxLength: 45 })(untrusted, at)
    if (!(isIPv4(host) || isIPv6(host))) throw new ManifestIssue(at, `${JSON.stringify(host)} is not an IP address`)
    return host
  },
  port: integer(1, 65535),
})
