import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { chmod, readdir, readFile, readlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { aptGateFiles, type GateTarget } from '../../../agent/apt-gate/files'
import { writeGeneratedFiles } from '../../../agent/generated/write'
import { shippedManifest } from '../../../agent/features'
import type { Manifest } from '../../../agent/manifest/schema'
import { rootPaths } from '../../../agent/paths'
import { buildSimulatedQube } from '../../../agent/simulate/build'
import { PROFILES, type ProfileName } from '../../../agent/simulate/profiles'
import { agentForAnyUser } from '../../helpers/cli'
import { tempRoot } from '../../helpers/sandbox'

export const manifest: Manifest = shippedManifest()

export interface GateSandbox {
  readonly root: string
  /** The manifest the sandbox's agent uses (--config). */
  readonly config: string
  /** Re-rooted marker directory and markers. */
  readonly dir: string
  readonly secure: string
  readonly done: string
  /** The gate's files as installed under the root, pointing at the root. */
  readonly target: GateTarget
  /** PATH with the simulated qube's qubesdb-read first. */
  readonly env: NodeJS.ProcessEnv
}

/** A loopback URL where nothing listens (a port just bound and released). */
export async function closedUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return `http://127.0.0.1:${port}/`
}

/**
 * A simulated Whonix qube with the gate's files installed for it. The agent is the built
 * bundle, with the shipped manifest but for the updates proxy's URL (the refusal asks it
 * how it is): by default one where nothing listens, so the host's port 8082 plays no part.
 */
export async function gateSandbox(
  profile: ProfileName = 'template-workstation',
  agent?: readonly string[],
  proxyUrl?: string,
): Promise<GateSandbox> {
  const root = await tempRoot('qwa-test-gate-')
  // Readable by an unprivileged user too (the permission tests run the agent as nobody).
  await chmod(root, 0o755)
  await buildSimulatedQube(root, PROFILES[profile], manifest)
  const config = join(root, 'qubes.yaml')
  const shipped = await readFile('qubes.yaml', 'utf8')
  await writeFile(
    config,
    shipped.replace(`url: ${manifest.updatesProxy.check.url}`, `url: ${proxyUrl ?? (await closedUrl())}`),
  )
  const target = { root, agent: agent ?? [process.execPath, await agentForAnyUser(), '--config', config] }
  await writeGeneratedFiles(root, aptGateFiles(manifest, target))
  const paths = rootPaths(manifest.paths, root)
  const dir = paths.updatesProxyCheckDir
  const { markers } = manifest.updatesProxy
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${join(root, 'usr/bin')}:/usr/bin:/bin` }
  delete env[manifest.aptGate.skip.variable]
  return { root, config, dir, secure: join(dir, markers.secure), done: join(dir, markers.done), target, env }
}

export const touch = (file: string) => writeFile(file, '')

export interface Running {
  readonly child: ChildProcess
  stdout(): string
  stderr(): string
  /** Resolves once stderr (or stdout) carries `text`. */
  seen(text: string | RegExp, stream?: 'stdout' | 'stderr'): Promise<void>
  ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts a real process and follows its output. */
export function start(
  argv: readonly string[],
  options: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number; cwd?: string } = {},
): Running {
  const [file, ...args] = argv as [string, ...string[]]
  const child = spawn(file, args, {
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid ?? options.uid }),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  })
  const text = { stdout: '', stderr: '' }
  const waiters: (() => void)[] = []
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]?.setEncoding('utf8').on('data', (chunk: string) => {
      text[stream] += chunk
      for (const wake of waiters.splice(0)) wake()
    })
  }
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  )
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  void ended.then(() => clearTimeout(killer))
  return {
    child,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    ended,
    seen: (wanted, stream = 'stderr') =>
      new Promise((resolve, reject) => {
        const matches = () => (typeof wanted === 'string' ? text[stream].includes(wanted) : wanted.test(text[stream]))
        const look = () => {
          if (matches()) return resolve()
          waiters.push(look)
        }
        void ended.then(() =>
          matches() ? resolve() : reject(new Error(`ended without ${String(wanted)} on ${stream}: ${text.stderr}`)),
        )
        look()
      }),
  }
}

/** The ids of `pid`'s descendants, read from /proc. */
export async function descendants(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>()
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8')
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      parents.set(parent, [...(parents.get(parent) ?? []), Number(name)])
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = []
  for (let queue = [pid]; queue.length > 0;) {
    const children = parents.get(queue.shift() as number) ?? []
    found.push(...children)
    queue.push(...children)
  }
  return found
}

export async function commandLine(pid: number): Promise<string> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ')
  } catch {
    return ''
  }
}

/**
 * Resolves once the gate started under `pid` (or `pid` itself) waits for the check: its
 * inotify watch is open. The note saying so is printed only to a terminal, not to a test.
 */
export async function gateWaiting(pid: number, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    for (const candidate of [pid, ...(await descendants(pid))]) {
      if (!(await commandLine(candidate)).includes('apt-gate')) continue
      const fds = await readdir(`/proc/${candidate}/fd`).catch(() => [])
      const targets = await Promise.all(fds.map((fd) => readlink(`/proc/${candidate}/fd/${fd}`).catch(() => '')))
      if (targets.includes('anon_inode:inotify')) return
    }
    if (performance.now() > deadline) throw new Error(`no waiting gate under ${pid}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** python3-apt's update of the package lists, as the Qubes updater runs it: exit 1 when it fails. */
export const UPDATE_PY = `
import sys, apt
try:
    apt.Cache().update()
except Exception as error:
    print("update failed:", error)
    sys.exit(1)
print("update done")
`
