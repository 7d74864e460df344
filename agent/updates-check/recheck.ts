import { setTimeout as sleep } from 'node:timers/promises'
import { CodedError } from '../../rpc/errors'
import { jsonHandler } from '../../rpc/json'
import { bootClockMs, monotonicMs } from '../time/monotonic'
import type { AgentContext } from '../context'
import type { Command } from '../run'
import type { HandlerFactory } from '../services/environment'
import { readMarkerState, markerPaths, type MarkerState } from './markers'
import { removeMarker } from './record'
import type { CheckReport } from './report'

/** Starts the check again (in its unit, as its user); resolves once it is queued. */
export type CheckStarter = (context: AgentContext) => Promise<void>

export interface RecheckAnswer {
  readonly schema: 1
  readonly verdict: MarkerState['verdict']
  readonly report: CheckReport | null
}

const POLL_MS = 100
// Past the unit's own bound: by then systemd has stopped the check, and check-done exists.
const GRACE_MS = 5000

export const restartUnitCommand = (unit: string): Command => ({
  argv: ['systemctl', 'restart', '--no-block', unit],
  timeoutMs: 10_000,
  maxOutputBytes: 4096,
})

/** The check's unit restarted through systemd, so it runs as its user with its bounds. */
export const restartCheckUnit: CheckStarter = async (context) => {
  const command = restartUnitCommand(context.manifest.updatesProxy.check.unit)
  const result = await context.run(command)
  if (result.exitCode !== 0)
    throw new CodedError(
      'RECHECK_NOT_STARTED',
      `could not start ${command.argv[3]}: ${result.spawnError ?? (result.stderr.trim().slice(0, 200) || `exit ${result.exitCode}`)}`,
    )
}

/**
 * Whether the report is of a run that started after `requestedAt` (boot clock, ms). A run
 * still going when the restart was asked is stopped by it (SIGTERM), and then writes
 * check-done and an `interrupted` report of its own: that result is not the new run's.
 * A run's start is its end less its length (the report has both, to the millisecond); a
 * report without a boot-clock end cannot be placed and is not taken.
 */
export function ranSince(report: CheckReport | null, requestedAt: number): boolean {
  return report?.finishedBootMs !== undefined && report.finishedBootMs - report.elapsedMs > requestedAt
}

/**
 * whonix.UpdatesProxyCheck (dom0 -> a Whonix template): forget the last result, run the
 * check again, answer its new result once it is done (check-done and a report of a run
 * that started after the restart was asked).
 */
export function recheckService(start: CheckStarter): HandlerFactory {
  return (context, daemon) =>
    jsonHandler(async (call): Promise<RecheckAnswer> => {
      const markers = markerPaths(context)
      await removeMarker(markers.secure)
      await removeMarker(markers.done)
      const requestedAt = bootClockMs()
      await start(context)
      const deadline = monotonicMs() + context.manifest.updatesProxy.check.timeoutSec * 1000 + GRACE_MS
      for (;;) {
        const state = await readMarkerState(context, daemon.role)
        if (state.checkDone === 'present' && ranSince(state.report, requestedAt))
          return { schema: 1, verdict: state.verdict, report: state.report }
        if (monotonicMs() > deadline || call.signal.aborted)
          throw new CodedError(
            'RECHECK_TIMEOUT',
            `the check did not finish within ${context.manifest.updatesProxy.check.timeoutSec} s`,
          )
        await sleep(POLL_MS)
      }
    })
}

export const updatesProxyCheckService = recheckService(restartCheckUnit)
