import type { RpcLog } from '../../rpc/call'

/**
 * Errors counted per cause and logged once per cause: a gateway that is down makes every
 * connection fail the same way, and the journal should say so once, not a thousand
 * times. `recovered()` (a connection succeeded) lets the next outage be logged again.
 */
export class CauseLog {
  private readonly counts = new Map<string, number>()
  private readonly logged = new Set<string>()

  constructor(
    private readonly log: RpcLog,
    private readonly prefix: string,
  ) {}

  report(cause: string, message: string, level: 'warning' | 'info' | 'debug' = 'warning'): void {
    this.counts.set(cause, (this.counts.get(cause) ?? 0) + 1)
    if (this.logged.has(cause)) return
    this.logged.add(cause)
    this.log[level](`${this.prefix}: ${message} (logged once until it recovers; see status for counts)`)
  }

  /** The causes starting with `prefix` may be logged again. */
  recovered(prefix: string): void {
    if (this.logged.size === 0) return
    for (const cause of this.logged) if (cause.startsWith(prefix)) this.logged.delete(cause)
  }

  /** Cause -> how often it happened, for status. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts)
  }
}

/** The cause of a socket error: its code (ECONNREFUSED...), else its message. */
export const causeOf = (error: NodeJS.ErrnoException): string => error.code ?? error.message.slice(0, 80)
