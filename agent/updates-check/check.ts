import { join } from 'node:path'
import { errorMessage } from '../../rpc/errors'
import { bootClockMs } from '../time/monotonic'
import type { AgentContext } from '../context'
import type { Io } from '../io'
import type { Role } from '../role'
import { fileFact } from '../role/facts'
import { describeProbe, formatDiagnostic } from './failure-text'
import { markerPaths } from './markers'
import { probeProxy, type ProbeResult } from '../updates-proxy/probe'
import { createMarker, ensureDirectory, removeMarker, writeReport } from './record'
import { reportPath, type CheckReport } from './report'

export interface CheckEnvironment {
  readonly context: AgentContext
  readonly role: Role
  /** The name of the user this process runs as. */
  readonly user: string
  readonly io: Io
  /** Monotonic milliseconds. */
  now(): number
  sleep(ms: number): Promise<void>
  /** Asks the updates qube about its health within `timeoutMs`; null when not asked. Never throws. */
  diagnose(timeoutMs: number): Promise<string | null>
  /** Called once the user check passed: from here every exit, SIGTERM included, writes check-done. */
  pastUserCheck(): void
}

export interface CheckOptions {
  /** Clear a sticky pass first and prove it again. */
  readonly recheck: boolean
}

type Outcome = { readonly exitCode: 0 | 1; readonly report: CheckReport | null }
type Reporter = (result: CheckReport['result'], detail: string, attempts: number) => CheckReport

// The diagnosis must not run into systemd's TimeoutStartSec: it ends this long before.
const DIAGNOSIS_MARGIN_MS = 500

export const checkApplies = (role: Role): boolean => role.qubes && role.class === 'template' && role.whonix !== null

/**
 * The template's torified updates-proxy check with upstream's contract (docs/qubes-facts.md, updates-proxy check): same
 * markers, modes, skip service, user and exit codes. Retries back off instead of waiting
 * a fixed second, and the whole check is bounded by itself.
 */
export async function runUpdatesProxyCheck(env: CheckEnvironment, options: CheckOptions): Promise<number> {
  const { context, io } = env
  const settings = context.manifest.updatesProxy.check
  if (!checkApplies(env.role)) return 0
  if (env.user !== settings.user) {
    io.err(`qubes-whonix-agent: updates-proxy check must run as user ${settings.user}, not ${env.user}`)
    return 1
  }
  env.pastUserCheck()
  const markers = markerPaths(context)
  const started = env.now()
  let outcome: Outcome
  try {
    outcome = await decide(env, options, markers.secure)
  } catch (error) {
    io.err(`qubes-whonix-agent: updates proxy check failed: ${errorMessage(error)}`)
    // A report all the same: whonix.UpdatesProxyCheck tells this run's result by it.
    const report: CheckReport = {
      schema: 1,
      result: 'failed',
      detail: `the check failed: ${errorMessage(error)}`.slice(0, 2000),
      attempts: 0,
      elapsedMs: Math.round(env.now() - started),
      finishedAt: new Date().toISOString(),
      finishedBootMs: bootClockMs(),
    }
    outcome = { exitCode: 1, report }
  }
  try {
    if (outcome.report)
      await writeReport(reportPath(context), `${JSON.stringify(outcome.report)}\n`, settings.markerMode)
    await createMarker(markers.done, settings.markerMode)
  } catch (error) {
    io.err(
      `qubes-whonix-agent: cannot record the check's result in ${context.manifest.paths.updatesProxyCheckDir}: ${errorMessage(error)}`,
    )
    return 1
  }
  return outcome.exitCode
}

async function decide(env: CheckEnvironment, options: CheckOptions, secureMarker: string): Promise<Outcome> {
  const { context } = env
  const settings = context.manifest.updatesProxy.check
  await ensureDirectory(context.paths.updatesProxyCheckDir, settings.directoryMode)
  const started = env.now()
  const report: Reporter = (result, detail, attempts) => ({
    schema: 1,
    result,
    detail,
    attempts,
    elapsedMs: Math.round(env.now() - started),
    finishedAt: new Date().toISOString(),
    finishedBootMs: bootClockMs(),
  })
  if ((await fileFact(join(context.paths.runQubesService, settings.skipService))) === 'present') {
    await createMarker(secureMarker, settings.markerMode)
    return {
      exitCode: 0,
      report: report('skipped', `skipped: ${context.manifest.paths.runQubesService}/${settings.skipService} exists`, 0),
    }
  }
  if (options.recheck) await removeMarker(secureMarker)
  else if ((await fileFact(secureMarker, false)) === 'present') return { exitCode: 0, report: null }
  await removeMarker(markerPaths(context).done)
  return probeLoop(env, secureMarker, started, report)
}

async function probeLoop(
  env: CheckEnvironment,
  secureMarker: string,
  started: number,
  report: Reporter,
): Promise<Outcome> {
  const settings = env.context.manifest.updatesProxy.check
  const { notReadyHeader } = env.context.manifest.updatesProxy.gateway
  const url = new URL(settings.url)
  const deadline = started + settings.timeoutSec * 1000 - settings.stopMarginMs
  let backoffMs = settings.backoff.initialMs
  let attempts = 0
  for (;;) {
    const left = Math.max(1, Math.round(deadline - env.now()))
    attempts++
    const last: ProbeResult = await probeProxy(url, settings.proofLine, notReadyHeader, {
      responseTimeoutMs: Math.min(settings.responseTimeoutMs, left),
      bodyTimeoutMs: Math.min(settings.bodyTimeoutMs, left),
      maxBodyBytes: settings.maxBodyBytes,
    })
    if (last.kind === 'answer' && last.proof) {
      await createMarker(secureMarker, settings.markerMode)
      return {
        exitCode: 0,
        report: report('passed', `${settings.url} answered with the proof line (HTTP ${last.status})`, attempts),
      }
    }
    if (last.kind === 'answer' && last.notReady === null)
      return fail(
        env,
        'the updates proxy is not torified: its answer lacks the proof line',
        last,
        attempts,
        started,
        report,
      )
    const wait = last.kind === 'failed' && last.refused ? settings.refusedPollMs : backoffMs
    if (env.now() + wait >= deadline) {
      const within = `${((settings.timeoutSec * 1000 - settings.stopMarginMs) / 1000).toFixed(0)} s`
      return fail(env, `no usable answer from the updates proxy within ${within}`, last, attempts, started, report)
    }
    if (!(last.kind === 'failed' && last.refused)) backoffMs = Math.min(backoffMs * 2, settings.backoff.maxMs)
    await env.sleep(wait)
  }
}

async function fail(
  env: CheckEnvironment,
  headline: string,
  last: ProbeResult,
  attempts: number,
  started: number,
  report: Reporter,
): Promise<Outcome> {
  const settings = env.context.manifest.updatesProxy.check
  const received = describeProbe(last, settings.excerptBytes)
  const left = started + settings.timeoutSec * 1000 - DIAGNOSIS_MARGIN_MS - env.now()
  const updatesQube = left > 0 ? await env.diagnose(Math.min(settings.diagnosisTimeoutMs, left)) : null
  env.io.err(
    formatDiagnostic({
      headline,
      url: settings.url,
      expected: settings.proofLine,
      received,
      attempts,
      elapsedMs: env.now() - started,
      updatesQube,
    }),
  )
  return { exitCode: 1, report: report('failed', `${headline}; last: ${received}`.slice(0, 2000), attempts) }
}
