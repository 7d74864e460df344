import { mkdir, open, readFile, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { CodedError } from '../../rpc/errors'

const RETRY_MS = 15
const MAX_PID_BYTES = 16

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Takes the lock file (exclusive create, our pid inside); one left by a dead process is taken over. */
async function acquire(path: string, timeoutMs: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 })
  const deadline = performance.now() + timeoutMs
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o600)
      await handle.writeFile(String(process.pid))
      await handle.close()
      return
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const owner = Number((await readFile(path, 'utf8').catch(() => '')).slice(0, MAX_PID_BYTES))
    if (Number.isSafeInteger(owner) && owner > 0 && !alive(owner)) await rm(path, { force: true })
    else if (performance.now() >= deadline)
      throw new CodedError('TOR_SETTINGS_BUSY', `another change of Tor's settings is under way (${path}); try again`)
    else await sleep(RETRY_MS)
  }
}

let queue: Promise<unknown> = Promise.resolve()

/**
 * Runs changes one at a time: in this process in the order they came (the daemon's calls),
 * and across processes (the CLI and the daemon) through the lock file.
 */
export function serialised<T>(lockPath: string, timeoutMs: number, change: () => Promise<T>): Promise<T> {
  const run = queue.then(async () => {
    await acquire(lockPath, timeoutMs)
    try {
      return await change()
    } finally {
      await rm(lockPath, { force: true })
    }
  })
  queue = run.catch(() => undefined)
  return run
}
