import { CodedError } from '../../rpc/errors'
import { readLine } from '../../rpc/input'
import { jsonHandler } from '../../rpc/json'
import { quoteUntrusted } from '../../rpc/descriptor'
import { writeFileAtomic } from '../fs/atomic-write'
import type { HandlerFactory } from '../services/environment'

// What dom0 sends (`date -u -Iseconds` and similar): an ISO 8601 time with its offset.
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?:Z|([+-])(\d{2}):?(\d{2}))$/

const MIN_YEAR = 2000
const MAX_YEAR = 2200

/** Days in a month (1-12) of the proleptic Gregorian calendar. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28
  return [4, 6, 9, 11].includes(month) ? 30 : 31
}

/** Validates one untrusted line as a timestamp; returns it trimmed of a trailing CR. */
export function parseTimestamp(untrustedLine: string): { text: string; epochMs: number } {
  const untrusted = untrustedLine.replace(/\r$/, '')
  const invalid = (why: string) =>
    new CodedError(
      'TIMESTAMP_INVALID',
      `${why}: ${quoteUntrusted(untrusted)} (expected an ISO 8601 timestamp with offset, like 2026-01-31T12:00:00+00:00)`,
    )
  const match = TIMESTAMP.exec(untrusted)
  if (!match) throw invalid('not an ISO 8601 timestamp with offset')
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  const fraction = match[7] ?? ''
  const [sign, offsetHours, offsetMinutes] = [match[8], Number(match[9] ?? 0), Number(match[10] ?? 0)]
  // Each field within its range: Date.parse would roll 2026-02-30 over to March 2.
  if (year < MIN_YEAR || year > MAX_YEAR) throw invalid(`year ${year} is outside ${MIN_YEAR}-${MAX_YEAR}`)
  if (month < 1 || month > 12) throw invalid(`month ${month} does not exist`)
  if (day < 1 || day > daysInMonth(year, month))
    throw invalid(`day ${day} does not exist in ${year}-${String(month).padStart(2, '0')}`)
  if (hour > 23 || minute > 59 || second > 59)
    throw invalid('the time of day is out of range (hours 00-23, minutes and seconds 00-59)')
  if (offsetHours > 23 || offsetMinutes > 59) throw invalid('the offset is out of range (hours 00-23, minutes 00-59)')
  const offsetMs = (sign === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000
  const milliseconds = Number(fraction.padEnd(3, '0').slice(0, 3))
  const epochMs = Date.UTC(year, month - 1, day, hour, minute, second, milliseconds) - offsetMs
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
    return {
      recorded: context.manifest.paths.setDateTimeRecord,
      timestamp: new Date(epochMs).toISOString(),
      clockSet: false,
    }
  })
}
