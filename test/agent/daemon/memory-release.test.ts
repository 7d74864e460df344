import { describe, expect, it } from 'vitest'
import { startMemoryRelease, type MemorySource, type QuietTimers } from '../../../agent/daemon/memory-release'

const MiB = 1024 * 1024

/** A heap driven by the test: `allocate` grows it, a collection makes it `liveBytes`. */
function scriptedHeap(liveBytes: number) {
  let used = liveBytes
  let collected: (() => void) | null = null
  const source: MemorySource = {
    onCollection(callback) {
      collected = callback
      return () => (collected = null)
    },
    heapUsed: () => used,
    collect: () => void (used = liveBytes),
  }
  return {
    source,
    allocate: (bytes: number) => void (used += bytes),
    /** A collection V8 made on its own. */
    collectionByV8: () => collected?.(),
    observing: () => collected !== null,
  }
}

/** Timers run by hand: `elapse` fires the one due. */
function handTimers() {
  let pending: { run: () => void; ms: number } | null = null
  const timers: QuietTimers = {
    setTimeout(run, ms) {
      expect(pending).toBeNull()
      pending = { run, ms }
      return pending
    },
    clearTimeout: () => void (pending = null),
  }
  return {
    timers,
    armedFor: () => (pending as { ms: number } | null)?.ms ?? null,
    elapse() {
      const due = pending
      pending = null
      due?.run()
    },
  }
}

const options = { quietMs: 2000, minGrowthBytes: MiB }

/** A release started on a 5 MiB heap that has grown by `grownBytes`, with its timers run by hand. */
function started(grownBytes = 0) {
  const heap = scriptedHeap(5 * MiB)
  heap.allocate(grownBytes)
  const clock = handTimers()
  return { heap, clock, release: startMemoryRelease(heap.source, options, clock.timers) }
}

describe('memory release after a burst', () => {
  it('gives back what start-up left once the daemon is quiet', () => {
    const { clock, release } = started(2 * MiB)
    expect(clock.armedFor()).toBe(2000)
    expect(release.status()).toEqual({ releases: 0, lastFreedBytes: 0 })
    clock.elapse()
    expect(release.status()).toEqual({ releases: 1, lastFreedBytes: 7 * MiB - 5 * MiB })
    // Nothing happens until V8 collects again.
    expect(clock.armedFor()).toBeNull()
  })

  it('waits while V8 keeps collecting, then releases once', () => {
    const { heap, clock, release } = started()
    clock.elapse()
    expect(release.status().releases).toBe(1)

    heap.allocate(3 * MiB)
    heap.collectionByV8()
    expect(clock.armedFor()).toBe(2000)
    for (let spell = 0; spell < 5; spell++) {
      // Busy: a collection during the spell sends the release on to the next one.
      heap.allocate(MiB)
      heap.collectionByV8()
      clock.elapse()
      expect(release.status().releases).toBe(1)
      expect(clock.armedFor()).toBe(2000)
    }
    clock.elapse()
    expect(release.status()).toEqual({ releases: 2, lastFreedBytes: 8 * MiB })
    expect(clock.armedFor()).toBeNull()
  })

  it('leaves a heap that grew less than minGrowthBytes alone', () => {
    const { heap, clock, release } = started()
    clock.elapse()
    heap.allocate(MiB / 2)
    heap.collectionByV8()
    clock.elapse()
    expect(release.status().releases).toBe(1)
    // Growth adds up across quiet spells: the next burst passes the bound.
    heap.allocate(MiB / 2)
    heap.collectionByV8()
    clock.elapse()
    expect(release.status()).toEqual({ releases: 2, lastFreedBytes: MiB })
  })

  it('releases only after a spell with no collection, one per quietMs at most, however a caller drives V8', () => {
    const { heap, clock, release } = started()
    let quietSpells = 0
    for (let round = 0; round < 50; round++) {
      // The most a caller can do: grow the heap past the bound and make V8 collect, over and over.
      for (let collection = 0; collection < 10; collection++) {
        heap.allocate(2 * MiB)
        heap.collectionByV8()
      }
      // handTimers refuses a second pending timer: one spell of quietMs at a time.
      expect(clock.armedFor()).toBe(2000)
      clock.elapse()
      expect(release.status().releases).toBe(quietSpells)
      if (round % 2 === 1) {
        clock.elapse()
        quietSpells++
      }
    }
    expect(release.status().releases).toBe(quietSpells)
  })

  it('retune() sets the limits from the next quiet spell on', () => {
    const { heap, clock, release } = started()
    clock.elapse()
    heap.allocate(2 * MiB)
    heap.collectionByV8()
    release.retune({ quietMs: 500, minGrowthBytes: 4 * MiB })
    // The spell under way keeps its length; 2 MiB is under the new bound.
    expect(clock.armedFor()).toBe(2000)
    clock.elapse()
    expect(release.status().releases).toBe(1)
    heap.allocate(2 * MiB)
    heap.collectionByV8()
    expect(clock.armedFor()).toBe(500)
    clock.elapse()
    expect(release.status()).toEqual({ releases: 2, lastFreedBytes: 4 * MiB })
  })

  it('stop() cancels the pending release and stops observing', () => {
    const { heap, clock, release } = started(4 * MiB)
    release.stop()
    expect(clock.armedFor()).toBeNull()
    expect(heap.observing()).toBe(false)
    expect(release.status().releases).toBe(0)
  })
})
