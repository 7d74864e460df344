import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { ForwarderStatus } from '../../../agent/stacked-tor/forwarder'
import type { StackedTorStatus } from '../../../agent/stacked-tor/part'
import { AGENT, runAgent } from '../../helpers/cli'
import { eventually } from './helpers'

// Shared by the tests that run the built daemon with its stacked-Tor part: a simulated qube
// in a temporary root, the daemon as a real process (optionally inside a network namespace).

const run = promisify(execFile)

export const CLIENT = fileURLToPath(new URL('./client.mjs', import.meta.url))

export interface SimulatedQube {
  readonly root: string
  readonly qubesdb: string
  remove(): Promise<void>
}

/** `simulate --as PROFILE` in a new temporary root, with qubesdb keys set (or removed: null). */
export async function simulatedQube(
  profile: string,
  keys: Readonly<Record<string, string | null>> = {},
  config?: string,
): Promise<SimulatedQube> {
  const root = await mkdtemp(join(tmpdir(), 'qwa-fwd-'))
  const result = await runAgent(['--root', root, ...(config ? ['--config', config] : []), 'simulate', '--as', profile])
  if (result.code !== 0) throw new Error(`simulate failed: ${result.stderr}`)
  const qubesdb = join(root, 'var/lib/qubes-whonix-agent/simulated-qubesdb')
  for (const [key, value] of Object.entries(keys)) {
    if (value === null) await rm(join(qubesdb, key), { force: true })
    else await writeFile(join(qubesdb, key), value)
  }
  return { root, qubesdb, remove: () => rm(root, { recursive: true, force: true }) }
}

/** The kernel's IPv6 switch as the agent reads it under the root (re-rooted /proc). */
export async function setIpv6Flag(root: string, value: '0' | '1'): Promise<void> {
  const dir = join(root, 'proc/sys/net/ipv6/conf/lo')
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'disable_ipv6'), `${value}\n`)
}

export interface RunningDaemon {
  readonly pid: number
  readonly log: () => string
  stop(): Promise<void>
}

/** Starts `daemon` on the root (in `netns` when given); resolves once the stacked-Tor part reports (or the daemon answers). */
export async function startDaemon(
  root: string,
  options: {
    netns?: string
    config?: string
    env?: NodeJS.ProcessEnv
    waitFor?: 'part' | 'daemon'
    node?: string
  } = {},
): Promise<RunningDaemon> {
  const agentArgs = ['--root', root, ...(options.config ? ['--config', options.config] : []), 'daemon', '--verbose']
  const node = options.node ?? process.execPath
  const [file, args] = options.netns
    ? ['ip', ['netns', 'exec', options.netns, node, AGENT, ...agentArgs]]
    : [node, [AGENT, ...agentArgs]]
  // `ip netns exec` execs the program: the child's pid is the daemon's.
  const child: ChildProcess = spawn(file, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: options.env ?? process.env,
  })
  let log = ''
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (log += text))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`the daemon exited (${child.exitCode}): ${log}`)
      if (options.waitFor === 'daemon') return (await daemonRunning(root, options.config)) ? true : undefined
      return stackedTor(root, options.config).catch(() => undefined)
    },
    30_000,
    'the daemon reports its stacked-tor part',
  )
  return {
    pid: child.pid ?? -1,
    log: () => log,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))])
      if (child.exitCode === null) child.kill('SIGKILL')
    },
  }
}

async function daemonRunning(root: string, config?: string): Promise<boolean> {
  const result = await runAgent(['--root', root, ...(config ? ['--config', config] : []), 'status', '--json'])
  return result.code === 0 && (JSON.parse(result.stdout) as { daemon: { running: boolean } }).daemon.running
}

/** The daemon's stacked-tor status, read with `status --json` (the daemon's control socket). */
export async function stackedTor(root: string, config?: string): Promise<StackedTorStatus | undefined> {
  const result = await runAgent(['--root', root, ...(config ? ['--config', config] : []), 'status', '--json'])
  if (result.code !== 0) throw new Error(result.stderr)
  const status = JSON.parse(result.stdout) as {
    daemon: { running: boolean; parts?: Record<string, { state: string; status?: StackedTorStatus }> }
  }
  return status.daemon.parts?.['stacked-tor']?.status
}

export const row = (status: StackedTorStatus, listen: string): ForwarderStatus | undefined =>
  status.forwarders.find((entry) => entry.listen === listen)

export interface ClientAnswer<T> {
  readonly ok: boolean
  readonly result?: T
  readonly error?: string
}

/** Runs the client script (in `netns` when given) with one request; resolves to its JSON answer. */
export async function client<T>(request: Record<string, unknown>, netns?: string): Promise<ClientAnswer<T>> {
  const argv = [process.execPath, CLIENT, JSON.stringify(request)]
  const [file, ...args] = netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv
  const { stdout } = await run(file as string, args, { timeout: 120_000 })
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as ClientAnswer<T>
}
