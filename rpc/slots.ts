import { CodedError } from './errors'

// dom0 is trusted: its calls are not held to a source's share.
const UNSHARED_SOURCE = 'dom0'

/** One connection's claim on a service's slots, from its accept to its release (once). */
export interface Ticket {
  /** The descriptor named `source`: a slot of the service and one of the source's share, or BUSY (nothing held). */
  admit(source: string): CodedError | null
  /** Gives back whatever the ticket holds; again is a no-op. */
  release(): void
}

/**
 * The call slots of one service. A connection waiting for its descriptor counts among at
 * most `maxConcurrent` such; once its source is known, a call holds one of `maxConcurrent`
 * slots and one of its source's `share`. A call releases them when it is refused or its
 * handler is done: flushing the answer (bounded) holds no slot.
 */
export class CallSlots {
  private pending = 0
  private held = 0
  private readonly bySource = new Map<string, number>()

  constructor(
    private readonly service: string,
    private readonly maxConcurrent: number,
    private readonly share: number,
  ) {}

  /** A new connection's ticket, or BUSY when too many connections wait for their descriptor. */
  enter(): Ticket | CodedError {
    if (this.pending >= this.maxConcurrent) return this.busy(`${this.maxConcurrent} calls already open`)
    this.pending++
    let phase: 'pending' | 'admitted' | 'released' = 'pending'
    let source = ''
    return {
      admit: (untrustedSource) => {
        if (phase !== 'pending') return null
        this.pending--
        phase = 'released'
        const refused = this.take(untrustedSource)
        if (refused) return refused
        phase = 'admitted'
        source = untrustedSource
        return null
      },
      release: () => {
        if (phase === 'pending') this.pending--
        if (phase === 'admitted') this.give(source)
        phase = 'released'
      },
    }
  }

  private take(source: string): CodedError | null {
    if (this.held >= this.maxConcurrent) return this.busy(`${this.maxConcurrent} calls already open`)
    const count = this.bySource.get(source) ?? 0
    if (source !== UNSHARED_SOURCE && count >= this.share)
      return this.busy(`for ${source}: it has ${this.share} calls open already, its share of ${this.maxConcurrent}`)
    this.held++
    this.bySource.set(source, count + 1)
    return null
  }

  private give(source: string): void {
    this.held--
    const count = (this.bySource.get(source) ?? 0) - 1
    if (count <= 0) this.bySource.delete(source)
    else this.bySource.set(source, count)
  }

  private busy(why: string): CodedError {
    return new CodedError('BUSY', `${this.service} is busy${why.startsWith('for ') ? ' ' : ': '}${why}; try again`)
  }
}
