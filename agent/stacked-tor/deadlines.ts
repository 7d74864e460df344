import { monotonicMs } from '../time/monotonic'

/** An item with a deadline; the fields are Deadlines' own (a list through the items themselves). */
export interface Expiring {
  /** Its time is up. */
  expire(): void
  deadlineAt: number
  deadlinePrevious: Expiring | null
  deadlineNext: Expiring | null
  deadlinePending: boolean
}

/**
 * One timer for many deadlines of the same length (connections waiting for the gateway). The
 * pending items are a list through their own fields, in the order they were added, which is
 * the order they expire in: adding and removing one allocates nothing. An item expires
 * between `timeoutMs` and a quarter more after it was added.
 */
export class Deadlines {
  private first: Expiring | null = null
  private last: Expiring | null = null
  private timer: NodeJS.Timeout | null = null

  constructor(private readonly timeoutMs: number) {}

  add(item: Expiring): void {
    if (item.deadlinePending) this.delete(item)
    item.deadlineAt = monotonicMs() + this.timeoutMs
    item.deadlinePrevious = this.last
    item.deadlineNext = null
    item.deadlinePending = true
    if (this.last === null) this.first = item
    else this.last.deadlineNext = item
    this.last = item
    // The timer is cleared by the sweep that finds nothing pending, not on every delete.
    this.timer ??= setInterval(this.sweep, Math.max(this.timeoutMs / 4, 10))
  }

  delete(item: Expiring): void {
    if (!item.deadlinePending) return
    const { deadlinePrevious: previous, deadlineNext: next } = item
    if (previous === null) this.first = next
    else previous.deadlineNext = next
    if (next === null) this.last = previous
    else next.deadlinePrevious = previous
    item.deadlinePrevious = null
    item.deadlineNext = null
    item.deadlinePending = false
  }

  private readonly sweep = (): void => {
    const now = monotonicMs()
    while (this.first !== null && this.first.deadlineAt <= now) {
      const item = this.first
      this.delete(item)
      item.expire()
    }
    if (this.first === null) this.clear()
  }

  clear(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }
}
