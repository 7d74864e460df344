import { spawn } from 'node:child_process'
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
      stdout: overflowed ? '' : output.stdout,
      stderr: overflowed ? '' : output.stderr.slice(0, MAX_STDERR_KEPT),
      timedOut,
      overflowed,
      ...(cause ? { spawnError: cause } : {}),
    }
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Runs a program directly, without a shell in between. For the reads on every command's
 * path (qubesdb-read): a shell would double the processes and their start-up time.
 */
export const spawnCommand: Runner = (command) =>
  new Promise((resolve) => {
    const [file, ...args] = command.argv
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(command.env === undefined ? {} : { env: { ...command.env } }),
    })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    let seen = 0
    let overflowed = false
    let timedOut = false
    let spawnError: string | undefined
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      seen += chunk.length
      if (seen > command.maxOutputBytes) {
        if (!overflowed) child.kill('SIGKILL')
        overflowed = true
        return
      }
      into.push(chunk)
    }
    child.stdout.on('data', collect(stdout))
    child.stderr.on('data', collect(stderr))
    child.stdin.on('error', () => undefined)
    child.stdin.end(command.input ?? '')
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, command.timeoutMs)
    child.on('error', (error: NodeJS.ErrnoException) => (spawnError = error.code ?? error.message))
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer)
      resolve({
        exitCode: spawnError === undefined ? exitCode : null,
        signal,
        stdout: overflowed ? '' : Buffer.concat(stdout).toString('utf8'),
        stderr: overflowed ? '' : Buffer.concat(stderr).toString('utf8').slice(0, MAX_STDERR_KEPT),
        timedOut,
        overflowed,
        ...(spawnError === undefined ? {} : { spawnError }),
      })
    })
  })
