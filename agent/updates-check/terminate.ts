import { performance } from 'node:perf_hooks'
import { bootClockMs } from '../time/monotonic'
import type { AgentContext } from '../context'
import { markerPaths } from './markers'
import { createMarkerSync, writeReportSync } from './record'
import { reportPath, type CheckReport } from './report'

// 128 + SIGTERM, as a shell reports it and systemd expects of a stopped oneshot.
export const TERMINATED_EXIT = 143

/**
 * From the moment the check is past its user check, SIGTERM (systemd's TimeoutStartSec, a
 * stop) still records that the check finished: check-done and an `interrupted` report.
 */
export function armTerminationRecord(
  context: AgentContext,
  exit: (code: number) => never = (code) => process.exit(code),
): void {
  const started = performance.now()
  const { markerMode } = context.manifest.updatesProxy.check
  process.once('SIGTERM', () => {
    const report: CheckReport = {
      schema: 1,
      result: 'interrupted',
      detail: 'stopped by SIGTERM before an answer',
      attempts: 0,
      elapsedMs: Math.round(performance.now() - started),
      finishedAt: new Date().toISOString(),
      finishedBootMs: bootClockMs(),
    }
    try {
      writeReportSync(reportPath(context), `${JSON.stringify(report)}\n`, markerMode)
    } catch {
      // The marker below is the contract; the report is extra.
    }
    try {
      createMarkerSync(markerPaths(context).done, markerMode)
    } finally {
      exit(TERMINATED_EXIT)
    }
  })
}
