import { spawn, type ChildProcess } from 'node:child_process'
import { CodedError } from '../../rpc/errors'
import { inForegroundGroup } from './signals'

/** Signals passed on to the command while it runs. */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGTERM',
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
]
// The terminal sends these to its whole foreground group, the command included: passing
// them on as well would deliver them twice.
const TERMINAL_SIGNALS = new Set<NodeJS.Signals>(['SIGINT', 'SIGQUIT'])

export interface ExecResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/**
 * Runs `argv` on our standard streams in our process group (so it can read the terminal),
 * passes signals on, and reports how it ended. The CLI turns that into our own exit.
 */
export function execForwarding(argv: readonly [string, ...string[]], env: NodeJS.ProcessEnv): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = argv
    const forward = (signal: NodeJS.Signals) => {
      if (TERMINAL_SIGNALS.has(signal) && inForegroundGroup()) return
      child.kill(signal)
    }
    // Before the spawn: a signal right after it must reach the command, not end us alone.
    for (const signal of FORWARDED_SIGNALS) process.on(signal, forward)
    const release = () => {
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward)
    }
    let child: ChildProcess
    try {
      child = spawn(file, args, { stdio: 'inherit', env })
    } catch (error) {
      release()
      throw new CodedError('EXEC_FAILED', `cannot run ${file}: ${(error as Error).message}`, {
        cause: error,
        command: [...argv],
        exitCode: 126,
      })
    }
    child.on('error', (error: NodeJS.ErrnoException) => {
      release()
      // The shell's codes: 127 not found, 126 found but not runnable.
      const exitCode = error.code === 'ENOENT' ? 127 : 126
      reject(
        new CodedError('EXEC_FAILED', `cannot run ${file}: ${error.code ?? error.message}`, {
          cause: error,
          command: [...argv],
          exitCode,
        }),
      )
    })
    child.on('exit', (code, signal) => {
      release()
      resolve({ code, signal })
    })
  })
}
