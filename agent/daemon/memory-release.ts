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

/** When a release runs (`services.memoryRelease`; a reload may change them). */
export interface MemoryReleaseLimits {
  readonly quietMs: number
  readonly minGrowthBytes: number
}

export interface MemoryReleaseOptions extends MemoryReleaseLimits {
  /** Told after each release how many heap bytes it freed, and after how long a quiet spell. */
  readonly released?: (freedBytes: number, quietMs: number) => void
}

export interface MemoryReleaseStatus {
  /** Full collections run after a quiet spell, since the daemon started. */
  readonly releases: number
  /** Heap bytes the last one freed (0 before the first). */
  readonly lastFreedBytes: number
}

export interface MemoryRelease {
  status(): MemoryReleaseStatus
  /** New limits, from the next quiet spell on (the one under way keeps its length). */
  retune(limits: MemoryReleaseLimits): void
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
  let limits: MemoryReleaseLimits = options
  let collections = 0
  let timer: unknown = null
  // No release yet: what start-up left counts as growth.
  let heapAfterRelease = 0
  let releases = 0
  let lastFreedBytes = 0

  const arm = () => {
    const seen = collections
    const { quietMs } = limits
    timer = timers.setTimeout(() => settle(seen, quietMs), quietMs)
  }

  /** The quiet spell is over: a collection since `seen` means still busy, so wait again. */
  const settle = (seen: number, quietMs: number) => {
    timer = null
    if (collections !== seen) return arm()
    if (source.heapUsed() - heapAfterRelease < limits.minGrowthBytes) return
    release(quietMs)
  }

  const release = (quietMs: number) => {
    const before = source.heapUsed()
    source.collect()
    heapAfterRelease = source.heapUsed()
    lastFreedBytes = Math.max(0, before - heapAfterRelease)
    releases++
    options.released?.(lastFreedBytes, quietMs)
  }

  const stopObserving = source.onCollection(() => {
    collections++
    if (timer === null) arm()
  })
  // Start-up has made its garbage already, whether or not a collection was seen.
  arm()

  return {
    status: () => ({ releases, lastFreedBytes }),
    retune: (next) => void (limits = next),
    stop() {
      stopObserving()
      if (timer !== null) timers.clearTimeout(timer)
      timer = null
    },
  }
}
