/**
 * Memory given back after a burst. V8 grows its old generation under a burst of calls or
 * forwarded connections and, with no further pressure, keeps that garbage for as long as the
 * daemon lives. Once the daemon has been quiet (no collection of V8's own) for `quietMs`, and
 * the heap has grown by `minGrowthBytes` since the last release, one full collection runs.
 */

/** What releasing memory needs of the process (process-memory.ts gives the real ones). */
export interface MemorySource {
  /** Calls `collected` after every collection V8 made on its own (not forced); returns a stop. */
  onCollection(collected: () => void): () => void
  /** Bytes of the JavaScript heap in use. */
  heapUsed(): number
  /** A full collection, now. */
  collect(): void
}

export interface MemoryReleaseOptions {
  readonly quietMs: number
  readonly minGrowthBytes: number
  /** Told after each release how many heap bytes it freed. */
  readonly released?: (freedBytes: number) => void
}

export interface MemoryReleaseStatus {
  /** Full collections run after a quiet spell, since the daemon started. */
  readonly releases: number
  /** Heap bytes the last one freed (0 before the first). */
  readonly lastFreedBytes: number
}

export interface MemoryRelease {
  status(): MemoryReleaseStatus
  stop(): void
}

export interface QuietTimers {
  setTimeout(run: () => void, ms: number): unknown
  clearTimeout(timer: unknown): void
}

const NODE_TIMERS: QuietTimers = {
  // Unreferenced: a pending release never keeps the daemon running.
  setTimeout: (run, ms) => setTimeout(run, ms).unref(),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
}

export function startMemoryRelease(
  source: MemorySource,
  options: MemoryReleaseOptions,
  timers: QuietTimers = NODE_TIMERS,
): MemoryRelease {
  let collections = 0
  let timer: unknown = null
  // No release yet: what start-up left counts as growth.
  let heapAfterRelease = 0
  let releases = 0
  let lastFreedBytes = 0

  const arm = () => {
    const seen = collections
    timer = timers.setTimeout(() => settle(seen), options.quietMs)
  }

  /** The quiet spell is over: a collection since `seen` means still busy, so wait again. */
  const settle = (seen: number) => {
    timer = null
    if (collections !== seen) return arm()
    if (source.heapUsed() - heapAfterRelease < options.minGrowthBytes) return
    release()
  }

  const release = () => {
    const before = source.heapUsed()
    source.collect()
    heapAfterRelease = source.heapUsed()
    lastFreedBytes = Math.max(0, before - heapAfterRelease)
    releases++
    options.released?.(lastFreedBytes)
  }

  const stopObserving = source.onCollection(() => {
    collections++
    if (timer === null) arm()
  })
  // Start-up has made its garbage already, whether or not a collection was seen.
  arm()

  return {
    status: () => ({ releases, lastFreedBytes }),
    stop() {
      stopObserving()
      if (timer !== null) timers.clearTimeout(timer)
      timer = null
    },
  }
}
