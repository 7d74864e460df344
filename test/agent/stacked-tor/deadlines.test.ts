import { describe, expect, it } from 'vitest'
import { Deadlines, type Expiring } from '../../../agent/stacked-tor/deadlines'
import { monotonicMs } from '../../../agent/time/monotonic'
import { sleep } from './helpers'

function item(name: string, expired: string[], at: Map<string, number>): Expiring {
  return {
    expire: () => {
      expired.push(name)
      at.set(name, monotonicMs())
    },
    deadlineAt: 0,
    deadlinePrevious: null,
    deadlineNext: null,
    deadlinePending: false,
  }
}

describe('connect deadlines on one timer', () => {
  it('expires in the order added, not before the timeout, and never a deleted item', async () => {
    const deadlines = new Deadlines(80)
    const expired: string[] = []
    const at = new Map<string, number>()
    const started = monotonicMs()
    const [a, b, c] = ['a', 'b', 'c'].map((name) => item(name, expired, at)) as [Expiring, Expiring, Expiring]
    deadlines.add(a)
    deadlines.add(b)
    deadlines.add(c)
    deadlines.delete(b)
    deadlines.delete(b)
    await sleep(40)
    expect(expired).toEqual([])
    await sleep(200)
    expect(expired).toEqual(['a', 'c'])
    expect(at.get('a')! - started).toBeGreaterThanOrEqual(80)
    // Re-added after it expired, twice: it expires once. Added and deleted: never.
    deadlines.add(a)
    deadlines.add(a)
    deadlines.add(b)
    deadlines.delete(b)
    await sleep(240)
    expect(expired).toEqual(['a', 'c', 'a'])
    deadlines.clear()
  })
})
