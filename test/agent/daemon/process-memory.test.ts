import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { processMemory } from '../../../agent/daemon/process-memory'

const MiB = 1024 * 1024

/** Objects kept while made (young collections move them to the old generation), then dropped. */
function oldGarbage(bytes: number): void {
  let kept: { index: number; text: string }[] = []
  for (let index = 0; kept.length * 64 < bytes; index++) kept.push({ index, text: `object ${index}` })
  kept = []
  void kept
}

describe("the process's heap (V8 itself)", () => {
  it('collect() gives back what a burst left in the old generation', async () => {
    const memory = processMemory()
    oldGarbage(16 * MiB)
    const grown = memory.heapUsed()
    memory.collect()
    expect(grown - memory.heapUsed()).toBeGreaterThan(8 * MiB)
    await sleep(0)
  })

  it("V8's own collections are reported, our forced one is not", async () => {
    const memory = processMemory()
    let reported = 0
    const stop = memory.onCollection(() => reported++)
    memory.collect()
    // The observer is told on a later turn of the event loop.
    await sleep(50)
    expect(reported).toBe(0)
    oldGarbage(32 * MiB)
    await sleep(50)
    expect(reported).toBeGreaterThan(0)
    stop()
    const before = reported
    oldGarbage(32 * MiB)
    await sleep(50)
    expect(reported).toBe(before)
  })
})
