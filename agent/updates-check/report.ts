import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import type { AgentContext } from '../context'

/** What the last check found out, kept next to the markers for `status` (the markers stay the contract). */
export interface CheckReport {
  readonly schema: 1
  readonly result: 'passed' | 'skipped' | 'failed' | 'interrupted'
  /** One line: what proved it, or what came back instead. */
  readonly detail: string
  readonly attempts: number
  readonly elapsedMs: number
  readonly finishedAt: string
  /** The end on the boot clock (agent/clock): whonix.UpdatesProxyCheck orders runs by it, not by the wall clock. */
  readonly finishedBootMs?: number
}

const MAX_REPORT_BYTES = 8192
const RESULTS: readonly string[] = ['passed', 'skipped', 'failed', 'interrupted']

export const reportPath = (context: AgentContext): string =>
  join(context.paths.updatesProxyCheckDir, context.manifest.updatesProxy.check.report)

/** Validates a report read from disk (it lies in a directory another user writes). */
export function parseReport(untrusted: unknown): CheckReport | null {
  if (typeof untrusted !== 'object' || untrusted === null) return null
  const value = untrusted as Record<string, unknown>
  const count = (key: string) =>
    typeof value[key] === 'number' && Number.isInteger(value[key]) && value[key] >= 0 ? value[key] : null
  const attempts = count('attempts')
  const elapsedMs = count('elapsedMs')
  if (value.schema !== 1 || !RESULTS.includes(value.result as string) || attempts === null || elapsedMs === null)
    return null
  if (
    typeof value.detail !== 'string' ||
    typeof value.finishedAt !== 'string' ||
    Number.isNaN(Date.parse(value.finishedAt))
  )
    return null
  const finishedBootMs = count('finishedBootMs')
  return {
    schema: 1,
    result: value.result as CheckReport['result'],
    detail: value.detail.slice(0, 2000),
    attempts,
    elapsedMs,
    finishedAt: value.finishedAt,
    ...(finishedBootMs === null ? {} : { finishedBootMs }),
  }
}

/** The last report, or null when there is none or it is not one (never throws). */
export async function readReport(path: string): Promise<CheckReport | null> {
  try {
    // Non-blocking and no links: a FIFO or a link planted there must not hang or redirect status.
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW)
    try {
      if (!(await handle.stat()).isFile()) return null
      const buffer = Buffer.alloc(MAX_REPORT_BYTES + 1)
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0)
      if (bytesRead > MAX_REPORT_BYTES) return null
      return parseReport(JSON.parse(buffer.subarray(0, bytesRead).toString('utf8')))
    } finally {
      await handle.close()
    }
  } catch {
    return null
  }
}
