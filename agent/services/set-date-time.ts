import { CodedError } from '../../rpc/errors'
import { readLine } from '../../rpc/input'
import { jsonHandler } from '../../rpc/json'
import { quoteUntrusted } from '../../rpc/descriptor'
import { writeFileAtomic } from '../fs/atomic-write'
import type { HandlerFactory } from './environment'

// What dom0 sends (`date -u -Iseconds` and similar): an ISO 8601 time with its offset.
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})$/

/** Validates one untrusted line as a timestamp; returns it trimmed of a trailing CR. */
export function parseTimestamp(untrustedLine: string): { text: string; epochMs: number } {
  const untrusted = untrustedLine.replace(/\r$/, '')
  const match = TIMESTAMP.exec(untrusted)
  const epochMs = match ? Date.parse(untrusted.replace(',', '.')) : NaN
  const year = Number(match?.[1])
  if (!match || Number.isNaN(epochMs) || year < 2000 || year > 2200 || Number(match[2]) > 12 || Number(match[3]) > 31)
    throw new CodedError('TIMESTAMP_INVALID', `not an ISO 8601 timestamp with offset (like 2026-01-31T12:00:00+00:00): ${quoteUntrusted(untrusted)}`)
  return { text: untrusted, epochMs }
}

/**
 * qubes.SetDateTime: records the time dom0 sent, never sets the clock (Whonix's sdwdate
 * does, over Tor, so the clock does not reveal the host's time zone or skew).
 */
export const setDateTimeService: HandlerFactory = (context) => {
  const record = context.paths.setDateTimeRecord
  return jsonHandler(async (call) => {
    const line = await readLine(call.input, call.limits.maxInputBytes)
    const untrusted = line.toString('utf8')
    if (line.length === 0) throw new CodedError('TIMESTAMP_INVALID', 'no timestamp was sent')
    const { text, epochMs } = parseTimestamp(untrusted)
    await writeFileAtomic(record, `${text}\n`, { mode: 0o644, directoryMode: 0o755, root: context.paths.root })
    return { recorded: context.manifest.paths.setDateTimeRecord, timestamp: new Date(epochMs).toISOString(), clockSet: false }
  })
}
