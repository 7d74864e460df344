import { spawnSync, type SpawnSyncOptions } from 'node:child_process'
import { errnoCode } from '../rpc/errors'
import { keptOutput, killGroup, type Runner } from './run'

/**
 * spawnCommand that blocks until the program is done: for the reads of a command that runs
 * once and has nothing else on its event loop meanwhile (role, status). One spawnSync costs
 * less than spawn()'s first use and the loop turns after it (2-3 ms of every start,
 * docs/performance.md). Never for the daemon: its calls would wait.
 *
 * The same bounds: at the time bound the program is killed, at the output bound (either
 * stream, or both together) too, then its process group. Unlike spawnCommand it returns when
 * the pipes close, not when the program exits: a job the program left holding them keeps
 * the run to the time bound, and is killed there.
 */
export const spawnCommandSync: Runner = (command) => {
  const [file, ...args] = command.argv
  // `detached` (setsid) is not among spawnSync's documented options, but Node 18 and 20 honour
  // it as spawn's: the group kill below relies on it (test/agent/run.test.ts checks both).
  const options: SpawnSyncOptions & { readonly detached: true } = {
    stdio: [command.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    ...(command.input === undefined ? {} : { input: command.input }),
    detached: true,
    timeout: command.timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: command.maxOutputBytes,
    ...(command.env === undefined ? {} : { env: { ...command.env } }),
  }
  const result = spawnSync(file, args, options)
  killGroup(result.pid)
  const failure = errnoCode(result.error)
  const started = result.pid > 0
  const overflowed =
    failure === 'ENOBUFS' || (result.stdout?.length ?? 0) + (result.stderr?.length ?? 0) > command.maxOutputBytes
  return Promise.resolve({
    exitCode: result.status,
    signal: result.signal,
    ...keptOutput(overflowed, result.stdout?.toString('utf8') ?? '', result.stderr?.toString('utf8') ?? ''),
    timedOut: failure === 'ETIMEDOUT',
    overflowed,
    ...(started || failure === undefined ? {} : { spawnError: failure }),
  })
}
