import { $, type ProcessOutput } from 'zx/core'

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

export const runCommand: Runner = async (command) => {
  const [file, ...args] = command.argv
  let overflowed = false
  let timedOut = false
  const process = $({
    quiet: true,
    nothrow: true,
    verbose: false,
    ...(command.input === undefined ? {} : { input: command.input }),
    ...(command.env === undefined ? {} : { env: { ...command.env } }),
  })`${file} ${args}`
  const timer = setTimeout(() => {
    timedOut = true
    void process.kill('SIGKILL').catch(() => undefined)
  }, command.timeoutMs)
  let seen = 0
  const count = (chunk: Buffer) => {
    seen += chunk.length
    if (seen > command.maxOutputBytes && !overflowed) {
      overflowed = true
      void process.kill('SIGKILL').catch(() => undefined)
    }
  }
  process.stdout.on('data', count)
  process.stderr.on('data', count)
  let output: ProcessOutput
  try {
    output = await process
  } finally {
    clearTimeout(timer)
  }
  const cause = output.cause as NodeJS.ErrnoException | null
  return {
    exitCode: output.exitCode,
    signal: output.signal,
    stdout: overflowed ? '' : output.stdout,
    stderr: overflowed ? '' : output.stderr.slice(0, 4096),
    timedOut,
    overflowed,
    ...(cause?.code ? { spawnError: cause.code } : {}),
  }
}
