import { dirname } from 'node:path'
import {
  absolutePath,
  integer,
  ipAddress,
  list,
  ManifestIssue,
  object,
  oneOf,
  optional,
  record,
  string,
  type Checked,
  type Checker,
} from '../manifest/check'
import { octalMode, userName } from '../manifest/validators'

// The `stackedTor:` section (docs/stacked-tor.md): where a workstation listens for applications that
// expect a local Tor, where each listener forwards to, and the Tor state it emulates.

const port = integer(1, 65535)
const envName = string({ pattern: /^[A-Z_][A-Z0-9_]{0,63}$/ })
// Exported into login shells: kept to characters that need no quoting.
const envValue = string({ pattern: /^[A-Za-z0-9_./:=-]{1,256}$/ })

const tcpListener = object({ port, to: port })
const unixListener = object({ path: absolutePath, to: port, exportAs: optional(envName) })

function unique<T>(
  items: readonly T[],
  key: (item: T) => string,
  at: readonly (string | number)[],
  what: string,
): void {
  const seen = new Set<string>()
  items.forEach((item, index) => {
    if (seen.has(key(item))) throw new ManifestIssue([...at, index], `${what} ${key(item)} is listed twice`)
    seen.add(key(item))
  })
}

const tcpTable: Checker<Checked<typeof tcpListener>[]> = (untrusted, at) => {
  const table = list(tcpListener)(untrusted, at)
  unique(table, (entry) => String(entry.port), at, 'port')
  return table
}

const unixTable: Checker<Checked<typeof unixListener>[]> = (untrusted, at) => {
  const table = list(unixListener)(untrusted, at)
  unique(table, (entry) => entry.path, at, 'socket')
  const exported = table.filter((entry) => entry.exportAs !== undefined)
  unique(exported, (entry) => entry.exportAs ?? '', at, 'variable')
  return table
}

const shape = object({
  user: userName,
  group: userName,
  socketMode: octalMode,
  directories: list(object({ path: absolutePath, mode: octalMode })),
  loopback: object({ ipv4: ipAddress(4), ipv6: ipAddress(6) }),
  ipv6DisabledFlag: absolutePath,
  tcp: tcpTable,
  unix: unixTable,
  template: object({
    flavours: list(oneOf(['gateway', 'workstation'] as const), { min: 1, unique: true }),
    tcp: tcpTable,
  }),
  limits: object({
    maxConnections: integer(1, 100_000),
    connectTimeoutMs: integer(10, 600_000),
    retryMs: integer(10, 3600_000),
  }),
  torState: object({
    source: absolutePath,
    cookieBytes: integer(16, 1024),
    copies: list(absolutePath, { min: 1, unique: true }),
    mode: octalMode,
  }),
  torBrowser: object({ profile: absolutePath, env: record(envValue, envName) }),
})

export const stackedTorSection: Checker<Checked<typeof shape>> = (untrusted, at) => {
  const section = shape(untrusted, at)
  const listed = (path: string) => section.directories.some((dir) => dirname(path) === dir.path)
  section.torState.copies.forEach((path, index) => {
    if (!listed(path))
      throw new ManifestIssue(
        [...at, 'torState', 'copies', index],
        `${path} is not directly in one of the directories listed under directories`,
      )
  })
  for (const [index, entry] of section.unix.entries()) {
    if (!listed(entry.path))
      throw new ManifestIssue(
        [...at, 'unix', index, 'path'],
        `${entry.path} is not directly in one of the directories listed under directories`,
      )
    if (entry.exportAs !== undefined && entry.exportAs in section.torBrowser.env)
      throw new ManifestIssue([...at, 'unix', index, 'exportAs'], `${entry.exportAs} is also set under torBrowser.env`)
  }
  return section
}

export type StackedTorSection = Checked<typeof stackedTorSection>
