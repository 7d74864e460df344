import { execFileSync, spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

// Building the packages for real (npm run package) and reading them with dpkg-deb.

export const REPO = fileURLToPath(new URL('../..', import.meta.url))

/** Runs `scripts/package.mjs --out DIR`; resolves to the .deb of each package, by name. */
export function buildPackages(out: string, timeoutMs = 600_000): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/package.mjs', '--out', out], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      if (code !== 0) return reject(new Error(`npm run package failed (${code}):\n${output.slice(-4000)}`))
      const debs: Record<string, string> = {}
      for (const name of readdirSync(out)) if (name.endsWith('.deb')) debs[name.split('_')[0]!] = join(out, name)
      resolve(debs)
    })
  })
}

export interface DebEntry {
  /** As installed, `/etc/...`; directories without a trailing slash. */
  readonly path: string
  readonly type: 'file' | 'dir' | 'symlink'
  readonly mode: number
  readonly owner: string
  readonly target?: string
}

/** `-rwxr-sr-x` as a number (0o2755). */
export function permissionsToMode(text: string): number {
  if (!/^[-dlcbps]([-r][-w][-xsS]){2}[-r][-w][-xtT]$/.test(text)) throw new Error(`not a permission string: ${text}`)
  let mode = 0
  const bits = text.slice(1)
  for (let i = 0; i < 9; i++) {
    const c = bits[i]!
    if (c !== '-' && c !== 'S' && c !== 'T') mode |= 1 << (8 - i)
  }
  if (/[sS]/.test(bits[2]!)) mode |= 0o4000
  if (/[sS]/.test(bits[5]!)) mode |= 0o2000
  if (/[tT]/.test(bits[8]!)) mode |= 0o1000
  return mode
}

/** The archive's own listing (dpkg-deb --contents): modes and owners as dpkg will install them. */
export function debEntries(deb: string): DebEntry[] {
  const listing = execFileSync('dpkg-deb', ['--contents', deb], { encoding: 'utf8' })
  return listing
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const match = /^(\S{10})\s+(\S+)\s+\d+\s+\S+\s+\S+\s+\.(\/.*?)(?: -> (.*))?$/.exec(line)
      if (!match) throw new Error(`unexpected dpkg-deb line: ${line}`)
      const [, perms, owner, rawPath, target] = match
      const type = perms![0] === 'd' ? 'dir' : perms![0] === 'l' ? 'symlink' : 'file'
      const path = rawPath === '/' ? '/' : rawPath!.replace(/\/$/, '')
      return { path, type, mode: permissionsToMode(perms!), owner: owner!, ...(target === undefined ? {} : { target }) }
    })
}

export const debField = (deb: string, field: string): string =>
  execFileSync('dpkg-deb', ['--field', deb, field], { encoding: 'utf8' }).trim()

/** A control-archive member (conffiles, postinst...), or '' when the package has none. */
export function debControlFile(deb: string, member: string): string {
  try {
    return execFileSync('dpkg-deb', ['--info', deb, member], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  } catch {
    return ''
  }
}

/** Splits a Depends value into its relations (each possibly `a | b`), whitespace normalised. */
export const relations = (value: string): string[] =>
  value
    .split(',')
    .map((relation) => relation.replace(/\s+/g, ' ').trim())
    .filter(Boolean)
