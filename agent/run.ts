import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { errnoCode } from '../rpc/errors'

/**
 * The one place the agent runs other programs. Callers build a `Command` as data (pure
 * functions, easy to test) and hand it to a `Runner`; tests can pass a different runner.
 */
export interface Command {
  readonly argv: readonly [string, ...string[]]
  readonly timeoutMs: number
  /** Output beyond this is not kept: the process is killed and `overflowed` is set. */
  readonly maxOutputBytes: number
  readonly input?: string
  readonly env?: Readonly<Record<string, string>>
}

export interface CommandResult {
  readonly exitCode: number | null
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
  readonly overflowed: boolean
  /** Set when the program could not be started at all (for example ENOENT). */
  readonly spawnError?: string
}

export type Runner = (command: Command) => Promise<CommandResult>

const MAX_STDERR_KEPT = 4096

/** The output a result keeps, whichever runner ran: none once it overflowed, stderr's start only. */
export function keptOutput(
  overflowed: boolean,
  stdout: string,
  stderr: string,
): Pick<CommandResult, 'stdout' | 'stderr'> {
  return overflowed ? { stdout: '', stderr: '' } : { stdout, stderr: stderr.slice(0, MAX_STDERR_KEPT) }
}

/**
 * The environment of zx's bash. Its stdin is a socket (libuv's pipes are socket pairs), and
 * a top-level bash with a socket on stdin takes itself for an rsh/ssh session and sources
 * ~/.bashrc: SHLVL 1 makes it a nested shell. BASH_ENV and ENV would be sourced too.
 */
export function shellEnvironment(base: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(base))
    if (value !== undefined && key !== 'BASH_ENV' && key !== 'ENV') env[key] = value
  const level = Number.parseInt(env.SHLVL ?? '', 10)
  env.SHLVL = String(Number.isSafeInteger(level) && level >= 1 ? level : 1)
  return env
}

/** Runs a command through zx (loaded on first use: most invocations never run one). */
export const runCommand: Runner = async (command) => {
  const { $ } = await import('zx/core')
  const [file, ...args] = command.argv
  let overflowed = false
  let timedOut = false
  const child = $({
    quiet: true,
    nothrow: true,
    verbose: false,
    ...(command.input === undefined ? {} : { input: command.input }),
    env: shellEnvironment(command.env ?? process.env),
  })`${file} ${args}`
  const timer = setTimeout(() => {
    timedOut = true
    void child.kill('SIGKILL').catch(() => undefined)
  }, command.timeoutMs)
  let seen = 0
  const count = (chunk: Buffer) => {
    seen += chunk.length
    if (seen > command.maxOutputBytes && !overflowed) {
      overflowed = true
      void child.kill('SIGKILL').catch(() => undefined)
    }
  }
  child.stdout.on('data', count)
  child.stderr.on('data', count)
  try {
    const output = await child
    const cause = errnoCode(output.cause)
    return {
      exitCode: output.exitCode,
      signal: output.signal,
      ...keptOutput(overflowed, output.stdout, output.stderr),
      timedOut,
      overflowed,
      ...(cause ? { spawnError: cause } : {}),
    }
  } finally {
    clearTimeout(timer)
  }
}

/** How long the output may still flow once the program has exited (copies held elsewhere). */
const DRAIN_MS = 250

/**
 * Kills the process group the child leads. `detached` made the child call setsid(), so its
 * group id is its own pid: never ours (our group's leader is alive), never 0 or 1.
 */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined || pid <= 1 || pid === process.pid) return
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // ESRCH: nothing left in the group.
  }
}

/**
 * Runs a program directly, without a shell in between. For the reads on every command's
 * path (qubesdb-read): a shell would double the processes and their start-up time.
 *
 * The program leads a process group of its own, and the group dies with it: whatever it
 * left running (a `sleep &` in a sourced file) is killed when it exits or times out. The
 * result is settled on its exit and a short drain of the pipes, never on their close, which
 * waits for every copy of them (a process that left the group may hold one forever).
 */
export const spawnCommand: Runner = (command) =>
  new Promise((resolve) => {
    const [file, ...args] = command.argv
    const options = { detached: true, ...(command.env === undefined ? {} : { env: { ...command.env } }) }
    // No input: /dev/null, not a pipe the program may never read (ending it fails with EPIPE).
    const child =
      command.input === undefined
        ? spawn(file, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(file, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    let seen = 0
    let overflowed = false
    let timedOut = false
    let spawnError: string | undefined
    let settled = false
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      seen += chunk.length
      if (seen > command.maxOutputBytes) {
        if (!overflowed) killGroup(child.pid)
        overflowed = true
        return
      }
      into.push(chunk)
    }
    child.stdout.on('data', collect(stdout))
    child.stderr.on('data', collect(stderr))
    child.stdout.on('error', () => undefined)
    child.stderr.on('error', () => undefined)
    child.stdin?.on('error', () => undefined)
    child.stdin?.end(command.input)
    const timer = setTimeout(() => {
      timedOut = true
      killGroup(child.pid)
    }, command.timeoutMs)
    const settle = (exitCode: number | null, signal: string | null) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      child.stdout.destroy()
      child.stderr.destroy()
      resolve({
        exitCode: spawnError === undefined ? exitCode : null,
        signal,
        ...keptOutput(overflowed, Buffer.concat(stdout).toString('utf8'), Buffer.concat(stderr).toString('utf8')),
        timedOut,
        overflowed,
        ...(spawnError === undefined ? {} : { spawnError }),
      })
    }
    child.on('error', (error: NodeJS.ErrnoException) => {
      spawnError = error.code ?? error.message
      // Never started: no exit will come.
      if (child.pid === undefined) settle(null, null)
    })
    child.on('exit', (exitCode, signal) => {
      killGroup(child.pid)
      const drained = [child.stdout, child.stderr].map((stream) =>
        stream.destroyed
          ? Promise.resolve()
          : once(stream, 'close').then(
              () => undefined,
              () => undefined,
            ),
      )
      // Timers run before the poll phase: one more turn reads what a busy loop left waiting.
      const drain = setTimeout(() => setImmediate(() => settle(exitCode, signal)), DRAIN_MS)
      void Promise.all(drained).then(() => {
        clearTimeout(drain)
        settle(exitCode, signal)
      })
    })
  })
