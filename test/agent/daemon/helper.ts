import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { onTestFinished } from 'vitest'
import { parse, stringify } from 'yaml'
import { AGENT, runAgent } from '../../helpers/cli'
import { tempRoot } from '../../helpers/sandbox'

export interface DaemonProcess {
  readonly child: ChildProcess
  readonly root: string
  /** Everything the daemon wrote to stderr so far. */
  log(): string
  /** Resolves when the log matches (rejects after a bound). */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
  readonly exited: Promise<number | null>
}

/** A simulated qube of this profile, in a temp root removed after the test. */
export async function simulatedRoot(profile: string): Promise<string> {
  const root = await tempRoot('qwa-daemon-')
  const built = await runAgent(['--root', root, 'simulate', '--as', profile])
  if (built.code !== 0) throw new Error(`simulate failed: ${built.stderr}`)
  return root
}

// Tests edit the parsed YAML freely (and on purpose wrongly): it is checked when the daemon loads it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type FreeYaml = Record<string, any>

/** The shipped manifest with `edit` applied, written to a file for --config. */
export function manifestFile(dir: string, edit: (manifest: FreeYaml) => void, name = 'manifest.yaml'): string {
  const manifest = parse(readFileSync(new URL('../../../qubes.yaml', import.meta.url), 'utf8')) as FreeYaml
  edit(manifest)
  const file = join(dir, name)
  writeFileSync(file, stringify(manifest))
  return file
}

/**
 * The daemon under the real systemd-socket-activate (`program`): the sockets are bound before
 * the daemon runs and passed to it by name, as systemd passes them (`names`: `a:b`, in order).
 */
export function startActivatedDaemon(
  root: string,
  activation: { program: string; listen: readonly string[]; names: string },
  extraArgs: readonly string[] = [],
): DaemonProcess {
  return startDaemon(root, [], {
    command: [
      activation.program,
      ...activation.listen.flatMap((address) => ['-l', address]),
      `--fdname=${activation.names}`,
      '-E',
      'PATH=/usr/bin:/bin',
      process.execPath,
      AGENT,
      '--root',
      root,
      ...extraArgs,
      'daemon',
      '--verbose',
    ],
  })
}

/** Starts the built agent's daemon as a real process; killed after the test if still running. */
export function startDaemon(
  root: string,
  extraArgs: readonly string[] = [],
  options: { env?: NodeJS.ProcessEnv; command?: readonly string[] } = {},
): DaemonProcess {
  const argv = options.command ?? [process.execPath, AGENT, '--root', root, ...extraArgs, 'daemon', '--verbose']
  const child = spawn(argv[0] ?? '', argv.slice(1), {
    env: options.env ?? { PATH: '/usr/bin:/bin' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  const waiters = new Set<() => void>()
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
    waiters.forEach((wake) => wake())
  })
  child.stdout?.resume()
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return {
    child,
    root,
    log: () => stderr,
    waitForLog(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!pattern.test(stderr)) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve()
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`daemon log never matched ${pattern}:\n${stderr}`))
        }, timeoutMs)
        waiters.add(check)
        void exited.then(() => setTimeout(check, 0))
        check()
      })
    },
    stop(signal = 'SIGTERM') {
      child.kill(signal)
      return exited
    },
    exited,
  }
}

export const READY = /<6>serving /
