import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { onTestFinished } from 'vitest'

export interface LoggedProcess {
  readonly child: ChildProcess
  /** stdout and stderr so far, interleaved as they came. */
  log(): string
  /** Resolves to false when the process exits (to race against "it is ready"). */
  readonly exited: Promise<false>
  /** Kills it (SIGCONT first: a stopped process dies too) and waits; done after the test anyway. */
  stop(): Promise<void>
}

/** Starts a real program whose output the test reads, killed after the test. */
export function spawnLogged(program: string, args: readonly string[]): LoggedProcess {
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stdout?.setEncoding('utf8').on('data', (text: string) => (log += text))
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (log += text))
  const exited = once(child, 'exit').then(() => false as const)
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGCONT')
    child.kill('SIGKILL')
    await exited
  }
  onTestFinished(stop)
  return { child, log: () => log, exited, stop }
}

/** True once the process is gone or a zombie (killed, waiting for its new parent to reap it). */
export async function ended(pid: number): Promise<boolean> {
  const start = performance.now()
  while (performance.now() - start < 10_000) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null)
    if (stat === null || /^\d+ \(.*\) Z /.test(stat)) return true
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return false
}
