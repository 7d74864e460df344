import { createHash } from 'node:crypto'
import type { Command } from '../run'
import type { FirewallManifest } from './manifest'

/** The nft (and unshare) command lines the firewall runs, as data. */

const MAX_OUTPUT_BYTES = 16 * 1024 * 1024
const cmd = (m: FirewallManifest, argv: [string, ...string[]], input?: string): Command => ({
  argv,
  timeoutMs: m.timeoutMs,
  maxOutputBytes: MAX_OUTPUT_BYTES,
  ...(input === undefined ? {} : { input }),
})

/** Loads a script in one transaction: all of it, or (on any error) nothing. */
export const loadFile = (m: FirewallManifest, file: string) => cmd(m, [m.nftProgram, '--file', file])
export const loadText = (m: FirewallManifest, script: string) => cmd(m, [m.nftProgram, '--file', '/dev/stdin'], script)
export const checkText = (m: FirewallManifest, script: string) =>
  cmd(m, [m.nftProgram, '--check', '--file', '/dev/stdin'], script)
/** The ruleset without counter values, so two listings of one ruleset compare equal. */
export const listRuleset = (m: FirewallManifest) => cmd(m, [m.nftProgram, '--stateless', 'list', 'ruleset'])

/** How nft itself lists a script once loaded: in a throwaway network namespace of its own. */
export const canonicalListing = (m: FirewallManifest, script: string) =>
  cmd(
    m,
    [
      m.unshareProgram,
      '--net',
      '--',
      m.bashProgram,
      '--noprofile',
      '--norc',
      '-c',
      '"$1" --file /dev/stdin && "$1" --stateless list ruleset',
      'qwa-nft',
      m.nftProgram,
    ],
    script,
  )

/** The listed blocks of the given tables (`table inet filter { ... }`), in the order asked. */
export function tablesOf(untrustedListing: string, tables: readonly string[]): string {
  const blocks = new Map<string, string>()
  let current: string[] | null = null
  let name = ''
  for (const line of untrustedListing.split('\n')) {
    const start = /^table (\S+ \S+) \{$/.exec(line)
    if (start) {
      name = start[1] ?? ''
      current = [line]
    } else if (current !== null) {
      current.push(line)
      if (line === '}') {
        blocks.set(name, current.join('\n'))
        current = null
      }
    }
  }
  return tables.map((table) => blocks.get(table) ?? `# table ${table} is not loaded`).join('\n')
}

export const digest = (text: string) => createHash('sha256').update(text).digest('hex')
