import { createHash } from 'node:crypto'
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'

// What a Debian root holds, to tell what installing and purging a package left behind.

// Not compared, each for a reason: kernel and device file systems; /run and /tmp, which are
// tmpfs on a running system; apt's and dpkg's own records and caches, and logs, which every
// package operation changes by design (diversions are checked through dpkg-divert instead).
export const UNCOMPARED = [
  '/proc',
  '/sys',
  '/dev',
  '/run',
  '/tmp',
  '/var/tmp',
  '/var/lib/dpkg',
  '/var/lib/apt',
  '/var/cache/apt',
  '/var/cache/debconf',
  '/var/log',
]

// Contents are compared where configuration and state live; elsewhere type, mode, owner and size.
const HASHED = ['/etc/', '/var/']

export type Snapshot = Map<string, string>

export function snapshot(root: string, skip: readonly string[] = UNCOMPARED): Snapshot {
  const result: Snapshot = new Map()
  const walk = (path: string) => {
    for (const name of readdirSync(join(root, path))) {
      const entry = path === '/' ? `/${name}` : `${path}/${name}`
      if (skip.includes(entry)) continue
      const stats = lstatSync(join(root, entry))
      const base = `${stats.mode.toString(8)} ${stats.uid}:${stats.gid}`
      if (stats.isSymbolicLink()) result.set(entry, `${base} -> ${readlinkSync(join(root, entry))}`)
      else if (stats.isDirectory()) {
        result.set(entry, `${base} dir`)
        walk(entry)
      } else if (stats.isFile() && HASHED.some((prefix) => entry.startsWith(prefix)))
        result.set(
          entry,
          `${base} ${createHash('sha256')
            .update(readFileSync(join(root, entry)))
            .digest('hex')}`,
        )
      else result.set(entry, `${base} ${stats.size}`)
    }
  }
  walk('/')
  return result
}

/** Entries added, removed or changed from `before` to `after`, as readable lines. */
export function difference(before: Snapshot, after: Snapshot): string[] {
  const lines: string[] = []
  for (const [path, state] of after) {
    if (!before.has(path)) lines.push(`added ${path} (${state})`)
    else if (before.get(path) !== state) lines.push(`changed ${path} (${before.get(path)} -> ${state})`)
  }
  for (const path of before.keys()) if (!after.has(path)) lines.push(`removed ${path}`)
  return lines.sort()
}
