import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'

// Real Debian roots for the install test: debootstrap --variant=minbase, from the mirror this
// machine's apt uses (read at run time, never written down), cached as tarballs outside the
// repository. Commands run chrooted inside a mount namespace of their own, so /proc, /dev and
// the apt archive cache are mounted for them alone and vanish when they end.

export interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export function run(
  argv: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin.end(options.input ?? '')
  })
}

export async function mustRun(argv: readonly string[], options: Parameters<typeof run>[1] = {}): Promise<Run> {
  const result = await run(argv, options)
  if (result.code !== 0)
    throw new Error(
      `${argv.join(' ')} exited ${result.code}\n${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`,
    )
  return result
}

/** One-line (`deb URI SUITE...`) and deb822 (`URIs:`/`Suites:`) sources as URI and suites. */
export function parseSources(text: string, deb822: boolean): { uri: string; suites: string[] }[] {
  if (!deb822)
    return text
      .split('\n')
      .map((line) => /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line))
      .flatMap((match) => (match ? [{ uri: match[1]!, suites: [match[2]!] }] : []))
  return text.split(/\n\s*\n/).flatMap((stanza) => {
    const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim().split(/\s+/) ?? []
    if (!field('Types').includes('deb') || /^Enabled:\s*no/im.test(stanza)) return []
    return field('URIs').map((uri) => ({ uri, suites: field('Suites') }))
  })
}

/** The Debian mirror of this machine: the source serving its own release's main suite. */
export function hostMirror(): string {
  const codename = /^VERSION_CODENAME=(.+)$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1]?.replace(/"/g, '')
  const files: [string, boolean][] = []
  if (existsSync('/etc/apt/sources.list')) files.push(['/etc/apt/sources.list', false])
  for (const name of existsSync('/etc/apt/sources.list.d') ? readdirSync('/etc/apt/sources.list.d').sort() : []) {
    if (name.endsWith('.list')) files.push([join('/etc/apt/sources.list.d', name), false])
    if (name.endsWith('.sources')) files.push([join('/etc/apt/sources.list.d', name), true])
  }
  for (const [file, deb822] of files) {
    const found = parseSources(readFileSync(file, 'utf8'), deb822).find(
      (source) => codename !== undefined && source.suites.includes(codename),
    )
    if (found) return found.uri
  }
  throw new Error(
    `no apt source for this machine's release (${codename ?? 'unknown'}) in /etc/apt: the install test needs a Debian mirror`,
  )
}

export const cacheDir = (): string =>
  process.env.QWA_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'qubes-whonix-agent')

// A cached root older than this is built again (apt would otherwise upgrade more and more of it).
const MAX_ROOT_AGE_MS = 30 * 24 * 3600 * 1000

/** A fresh minbase root of `suite` in a new temporary directory, from the cache when it has one. */
export async function debianRoot(suite: string, mirror: string): Promise<{ root: string; fromCache: boolean }> {
  const dir = cacheDir()
  mkdirSync(dir, { recursive: true })
  const key = createHash('sha256').update(mirror).digest('hex').slice(0, 12)
  const tarball = join(dir, `debootstrap-${suite}-minbase-${key}.tar`)
  const root = mkdtempSync(join(tmpdir(), `qwa-${suite}-`))
  const fresh = existsSync(tarball) && Date.now() - statSync(tarball).mtimeMs < MAX_ROOT_AGE_MS
  if (fresh) {
    await mustRun(['tar', '-C', root, '--numeric-owner', '-xpf', tarball])
    return { root, fromCache: true }
  }
  const partial = `${tarball}.${process.pid}.partial`
  try {
    // In a mount namespace of its own: debootstrap's /proc and /sys mounts end with it.
    await mustRun(['unshare', '--mount', '--', 'debootstrap', '--variant=minbase', suite, root, mirror], {
      timeoutMs: 900_000,
    })
    await mustRun(['tar', '-C', root, '--numeric-owner', '--one-file-system', '-cf', partial, '.'])
    renameSync(partial, tarball)
  } catch (error) {
    rmSync(partial, { force: true })
    removeRoot(root)
    throw error
  }
  return { root, fromCache: false }
}

/** The apt archive cache shared by every run of `suite`, mounted at the root's /var/cache/apt/archives. */
export function archiveCache(suite: string): string {
  const dir = join(cacheDir(), `apt-archives-${suite}`)
  mkdirSync(join(dir, 'partial'), { recursive: true })
  return dir
}

const CHROOT = [
  'set -e',
  'mount --make-rprivate /',
  'mount -t proc proc "$QWA_ROOT/proc"',
  'mount --rbind /dev "$QWA_ROOT/dev"',
  'mount --bind "$QWA_ARCHIVES" "$QWA_ROOT/var/cache/apt/archives"',
  'exec chroot "$QWA_ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"',
].join('\n')

/** Runs argv inside the root (chroot, private mounts). */
export function inRoot(
  root: string,
  archives: string,
  argv: readonly string[],
  options: { timeoutMs?: number; input?: string } = {},
): Promise<Run> {
  return run(['unshare', '--mount', '--', 'sh', '-c', CHROOT, 'chroot-run', ...argv], {
    ...options,
    env: { ...process.env, QWA_ROOT: root, QWA_ARCHIVES: archives },
  })
}

/** Prepares a root for apt: this machine's resolver, and no daemon started by a package. */
export function prepareRoot(root: string): void {
  writeFileSync(join(root, 'etc/resolv.conf'), readFileSync('/etc/resolv.conf'))
  // The Debian way to keep maintainer scripts from starting services in a chroot.
  writeFileSync(join(root, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 })
}

/** Kills what still runs inside the root (only processes this test started live there), then removes it. */
export function removeRoot(root: string): void {
  // Never delete through a mount point: a mount left there would take the host's files with it.
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point === root || point.startsWith(`${root}/`))
  if (mounted.length > 0) throw new Error(`not removing ${root}: still mounted there: ${mounted.join(' ')}`)
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readlinkSync(`/proc/${pid}/root`) === root) process.kill(Number(pid), 'SIGKILL')
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  rmSync(root, { recursive: true, force: true })
}
