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

/** What is watched: the marker directory (with its inode) or, while it is missing, an ancestor. */
type Watch = { readonly path: string; readonly inode: number | null; readonly watcher: FSWatcher | null }

export function waitForMarkers(options: WaitOptions): Promise<WaitResult> {
  return new Promise((resolve, reject) => new MarkerWait(options, resolve, reject).start())
}

/**
 * One wait, as named steps over explicit state: a watch on the marker directory (or its
 * nearest existing ancestor), a serialised re-read on every event and re-check, a deadline.
 */
class MarkerWait {
  private readonly started = performance.now()
  private current: Watch | null = null
  private last: MarkerReading | null = null
  private done = false
  private running = false
  private again = false
  private deadline: NodeJS.Timeout | undefined
  private recheck: NodeJS.Timeout | undefined
  private readonly onAbort = () => this.finish('aborted')

  constructor(
    private readonly options: WaitOptions,
    private readonly resolve: (result: WaitResult) => void,
    private readonly reject: (error: unknown) => void,
  ) {}

  start(): void {
    this.deadline = setTimeout(() => void this.onDeadline(), this.options.timeoutMs)
    this.recheck = setInterval(() => this.onRecheck(), this.options.recheckMs)
    if (this.options.signal?.aborted) return this.finish('aborted')
    this.options.signal?.addEventListener('abort', this.onAbort, { once: true })
    this.arm()
    void this.check()
  }

  private finish(outcome: WaitOutcome): void {
    if (this.done) return
    this.done = true
    this.resolve({ outcome, reading: this.last, waitedMs: performance.now() - this.started })
    // Answer first, tidy up after: apt need not wait for the watch to be closed.
    setImmediate(() => this.stop())
  }

  private stop(): void {
    this.done = true
    clearTimeout(this.deadline)
    clearInterval(this.recheck)
    this.current?.watcher?.close()
    this.options.signal?.removeEventListener('abort', this.onAbort)
  }

  /** Watches the directory, or its nearest existing ancestor while it is missing; unwatchable, the re-check alone looks. */
  private arm(): void {
    this.current?.watcher?.close()
    let path = this.options.directory
    for (;;) {
      try {
        const watcher = this.watch(path)
        this.current = { path, inode: path === this.options.directory ? inodeOf(path) : null, watcher }
        return
      } catch (error) {
        const code = errnoCode(error)
        const parent = dirname(path)
        if ((code === 'ENOENT' || code === 'ENOTDIR') && parent !== path) path = parent
        else {
          // Not watchable (EACCES, no inotify): the re-check alone keeps looking.
          this.current = { path, inode: null, watcher: null }
          return
        }
      }
    }
  }

  private watch(path: string): FSWatcher {
    const watcher = watch(path, { persistent: true }, () => void this.check())
    watcher.on('error', () => {
      watcher.close()
      if (this.current?.watcher === watcher) this.current = { ...this.current, watcher: null }
      void this.check()
    })
    return watcher
  }

  private needsRearm(reading: MarkerReading): boolean {
    if (!this.current || this.current.watcher === null) return true
    if (reading.directory === 'present')
      return this.current.path !== this.options.directory || this.current.inode !== reading.inode
    // Missing: watch the deepest ancestor that exists now (a parent may have appeared).
    return this.current.path !== nearestExisting(this.options.directory)
  }

  /** Reads until a reading settles or nothing new happened; a call while one runs makes it read once more. */
  private async check(): Promise<void> {
    if (this.done) return
    if (this.running) {
      this.again = true
      return
    }
    this.running = true
    try {
      do {
        this.again = false
        if (await this.readAndSettle()) return
      } while (this.again && !this.done)
    } catch (error) {
      this.stop()
      this.reject(error)
    } finally {
      this.running = false
    }
  }

  /** One look at the markers; true once the wait is over. */
  private async readAndSettle(): Promise<boolean> {
    const reading = await this.options.read()
    if (this.done) return true
    this.last = reading
    const outcome = settled(reading)
    if (outcome !== null) {
      this.finish(outcome)
      return true
    }
    // Re-arm, then look once more: an event between the read and the new watch is not lost.
    if (this.needsRearm(reading)) {
      this.arm()
      this.again = this.current?.watcher !== null
    }
    return false
  }

  /** At the deadline, one last look: a result that just appeared still counts. */
  private async onDeadline(): Promise<void> {
    try {
      this.last = await this.options.read()
    } catch {
      // keep the previous reading
    }
    const outcome = this.last ? settled(this.last) : null
    this.finish(outcome === 'passed' || outcome === 'failed' ? outcome : 'timeout')
  }

  private onRecheck(): void {
    if (this.options.stillWanted && !this.options.stillWanted()) this.finish('aborted')
    else void this.check()
  }
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
