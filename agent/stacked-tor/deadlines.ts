import { monotonicMs } from '../time/monotonic'

export interface Expiring {
  /** Its time is up. */
  expire(): void
}

/**
 * One timer for many deadlines of the same length (connections waiting for the gateway):
 * an entry costs a Map entry instead of a timer of its own. Entries expire in the order they
 * were added, between `timeoutMs` and a quarter more after it.
 */
export class Deadlines<T extends Expiring> {
  private readonly pending = new Map<T, number>()
  private timer: NodeJS.Timeout | null = null

  constructor(private readonly timeoutMs: number) {}

  add(item: T): void {
    // Whole milliseconds: V8 keeps a small integer in the Map unboxed, a fraction as an object.
    this.pending.set(item, Math.ceil(monotonicMs()) + this.timeoutMs)
    // The timer is cleared by the sweep that finds nothing pending, not on every delete.
    this.timer ??= setInterval(this.sweep, Math.max(this.timeoutMs / 4, 10))
  }

  delete(item: T): void {
    this.pending.delete(item)
  }

  get size(): number {
    return this.pending.size
  }

  private readonly sweep = (): void => {
    const now = monotonicMs()
    for (const [item, deadline] of this.pending) {
      if (deadline > now) break
      this.pending.delete(item)
      item.expire()
    }
    if (this.pending.size === 0) this.clear()
  }

  clear(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }
}
