import { statSync, watch, type FSWatcher } from 'node:fs'
import { dirname } from 'node:path'
import { errnoCode } from '../../rpc/errors'
import type { MarkerReader, MarkerReading } from './facts'

/**
 * The wait for the check's result. It watches the marker directory (inotify) and reads
 * the markers on every event, so it answers within milliseconds of a marker appearing;
 * a bounded re-check covers what a watch cannot see (a directory replaced, a file system
 * without inotify, a directory it may not watch). A missing directory is handled by
 * watching the nearest ancestor that exists until the directory appears.
 */
export type WaitOutcome = 'passed' | 'failed' | 'unusable' | 'timeout' | 'aborted'

export interface WaitResult {
  readonly outcome: WaitOutcome
  /** The last look at the markers (null only when aborted before the first). */
  readonly reading: MarkerReading | null
  readonly waitedMs: number
}

export interface WaitOptions {
  readonly directory: string
  readonly read: MarkerReader
  readonly timeoutMs: number
  readonly recheckMs: number
  readonly signal?: AbortSignal
  /** Asked at each re-check; the wait ends as aborted once it answers false (its caller is gone). */
  readonly stillWanted?: () => boolean
}

/** What a reading settles: a result, or null to keep waiting. */
export function settled(reading: MarkerReading): WaitOutcome | null {
  if (reading.verdict !== 'pending') return reading.verdict
  if (reading.directory === 'not-a-directory' || reading.directory === 'unreadable') return 'unusable'
  if (reading.secureProxy === 'unreadable' || reading.checkDone === 'unreadable') return 'unusable'
  return null
}

interface Watch {
  readonly path: string
  readonly inode: number | null
  readonly watcher: FSWatcher | null
}

export function waitForMarkers(options: WaitOptions): Promise<WaitResult> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    let current: Watch | null = null
    let last: MarkerReading | null = null
    let done = false
    let running = false
    let again = false

    const stop = () => {
      done = true
      clearTimeout(deadline)
      clearInterval(recheck)
      current?.watcher?.close()
      options.signal?.removeEventListener('abort', onAbort)
    }
    const finish = (outcome: WaitOutcome) => {
      if (done) return
      done = true
      resolve({ outcome, reading: last, waitedMs: performance.now() - started })
      // Answer first, tidy up after: apt need not wait for the watch to be closed.
      setImmediate(stop)
    }

    const arm = () => {
      current?.watcher?.close()
      let path = options.directory
      for (;;) {
        try {
          const watcher = watch(path, { persistent: true }, () => void check())
          watcher.on('error', () => {
            watcher.close()
            if (current?.watcher === watcher) current = { ...current, watcher: null }
            void check()
          })
          current = { path, inode: path === options.directory ? inodeOf(path) : null, watcher }
          return
        } catch (error) {
          const code = errnoCode(error)
          const parent = dirname(path)
          if ((code === 'ENOENT' || code === 'ENOTDIR') && parent !== path) path = parent
          else {
            // Not watchable (EACCES, no inotify): the re-check alone keeps looking.
            current = { path, inode: null, watcher: null }
            return
          }
        }
      }
    }

    const needsRearm = (reading: MarkerReading) => {
      if (!current || current.watcher === null) return true
      if (reading.directory === 'present') return current.path !== options.directory || current.inode !== reading.inode
      // Missing: watch the deepest ancestor that exists now (a parent may have appeared).
      return current.path !== nearestExisting(options.directory)
    }

    const check = async (): Promise<void> => {
      if (done) return
      if (running) {
        again = true
        return
      }
      running = true
      try {
        do {
          again = false
          const reading = await options.read()
          if (done) return
          last = reading
          const outcome = settled(reading)
          if (outcome !== null) return finish(outcome)
          // Re-arm, then look once more: an event between the read and the new watch is not lost.
          if (needsRearm(reading)) {
            arm()
            again = current?.watcher !== null
          }
        } while (again && !done)
      } catch (error) {
        stop()
        reject(error)
      } finally {
        running = false
      }
    }

    const onAbort = () => finish('aborted')
    const onDeadline = async () => {
      try {
        last = await options.read()
      } catch {
        // keep the previous reading
      }
      const outcome = last ? settled(last) : null
      finish(outcome === 'passed' || outcome === 'failed' ? outcome : 'timeout')
    }
    const deadline = setTimeout(() => void onDeadline(), options.timeoutMs)
    const recheck = setInterval(() => {
      if (options.stillWanted && !options.stillWanted()) finish('aborted')
      else void check()
    }, options.recheckMs)

    if (options.signal?.aborted) return finish('aborted')
    options.signal?.addEventListener('abort', onAbort, { once: true })
    arm()
    void check()
  })
}

function inodeOf(path: string): number | null {
  try {
    return statSync(path).ino
  } catch {
    return null
  }
}

function nearestExisting(path: string): string {
  let candidate = dirname(path)
  while (inodeOf(candidate) === null && dirname(candidate) !== candidate) candidate = dirname(candidate)
  return candidate
}
