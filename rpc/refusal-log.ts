import { performance } from 'node:perf_hooks'
import type { RpcLog } from './call'

// A caller that floods a service must not also fill the log: one line per kind per period.
export const REFUSAL_LOG_INTERVAL_MS = 10_000

/** Logs what callers cause (refusals, cuts, failures): per kind (an error code), one line per period with the count of the others. */
export type RefusalLog = (kind: string, level: 'warning' | 'info', message: string) => void

export function refusalLog(log: RpcLog, intervalMs = REFUSAL_LOG_INTERVAL_MS): RefusalLog {
  const kinds = new Map<string, { last: number; unlogged: number }>()
  return (kind, level, message) => {
    const now = performance.now()
    const seen = kinds.get(kind) ?? { last: -Infinity, unlogged: 0 }
    kinds.set(kind, seen)
    if (now - seen.last < intervalMs) {
      seen.unlogged++
      return
    }
    const more = seen.unlogged > 0 ? ` (${seen.unlogged} more of this kind since the last such line)` : ''
    log[level](`${message}${more}`)
    seen.last = now
    seen.unlogged = 0
  }
}
