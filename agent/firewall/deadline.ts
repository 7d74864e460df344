import { CodedError } from '../../rpc/errors'
import type { Manifest } from '../manifest/schema'
import type { CommandResult, Runner } from '../run'

/**
 * The boot unit's TimeoutStartSec (systemd.oneshotTimeoutSec) shared out so that the unit
 * always ends on its own, before systemd kills it: half for generating and loading, then at
 * most a fifth for each of the lockdown's two nft runs (load, listing); the rest is for
 * starting the program and writing the status files.
 */
export function bootBudget(manifest: Manifest): { readonly applyMs: number; readonly lockdownCommandMs: number } {
  const unitMs = manifest.systemd.oneshotTimeoutSec * 1000
  return {
    applyMs: Math.floor(unitMs / 2),
    lockdownCommandMs: Math.min(manifest.firewall.timeoutMs, Math.floor(unitMs / 5)),
  }
}

export interface Deadline {
  /** Runs commands cut to the time left; none starts, and none counts as done, after the deadline. */
  readonly run: Runner
  /** The work, or FIREWALL_TIMEOUT at the deadline, whichever comes first. */
  race<T>(work: Promise<T>): Promise<T>
  readonly passed: () => boolean
  /** Resolves once every command started through `run` has ended (they are killed at the deadline). */
  quiet(): Promise<void>
  /** Stops the timer (the work is done, or given up). */
  end(): void
}

const timedOut = (result: CommandResult): CommandResult => ({ ...result, exitCode: null, timedOut: true })

export function timeoutError(ms: number): CodedError {
  return new CodedError('FIREWALL_TIMEOUT', `generating and loading the firewall did not finish within ${ms} ms`, {
    exitCode: 4,
  })
}

export function startDeadline(run: Runner, ms: number): Deadline {
  const start = performance.now()
  const left = () => Math.floor(ms - (performance.now() - start))
  const running = new Set<Promise<CommandResult>>()
  let expire: (error: CodedError) => void = () => undefined
  const expired = new Promise<never>((_resolve, reject) => (expire = reject))
  expired.catch(() => undefined)
  const timer = setTimeout(() => expire(timeoutError(ms)), ms)
  const bounded: Runner = async (command) => {
    const remaining = left()
    if (remaining <= 0)
      return { exitCode: null, signal: null, stdout: '', stderr: '', timedOut: true, overflowed: false }
    const pending = run({ ...command, timeoutMs: Math.min(command.timeoutMs, remaining) })
    running.add(pending)
    try {
      const result = await pending
      return left() <= 0 ? timedOut(result) : result
    } finally {
      running.delete(pending)
    }
  }
  return {
    run: bounded,
    race: (work) => Promise.race([work, expired]),
    passed: () => left() <= 0,
    quiet: () => Promise.allSettled([...running]).then(() => undefined),
    end: () => clearTimeout(timer),
  }
}
