import type { AgentContext } from '../context'
import { gateScope, type GateMode } from './conditions'
import { gatherGateFacts, markerReader, type MarkerReading } from './facts'
import { updatesQubeHealth } from './health'
import { refusalText, stoppedLine, type RefusalOutcome } from './refusal'
import { settled, waitForMarkers } from './wait'

export type GateResult =
  | { readonly verdict: 'not-gated'; readonly reason: string }
  | { readonly verdict: 'passed'; readonly waitedMs: number }
  | {
      readonly verdict: 'refused'
      readonly outcome: RefusalOutcome
      readonly reading: MarkerReading | null
      readonly text: string
    }
  /** A signal or the caller's exit ended the wait: no verdict, the caller stops. */
  | { readonly verdict: 'aborted' }

export interface GateOptions {
  readonly mode: GateMode
  /** Named in the refusal's first line ('<command>'). */
  readonly command: string
  /** Named in the refusal's first line ('<gate>'). */
  readonly gate: string
  readonly signal?: AbortSignal
  readonly stillWanted?: () => boolean
  /** Told once, when there is something to wait for. */
  readonly onWait?: (message: string) => void
  readonly health?: (context: AgentContext) => Promise<string | null>
}

async function templateName(context: AgentContext): Promise<string | null> {
  const read = await context.qubesdb.read('/name')
  return read.state === 'present' ? read.value : null
}

/** The gate: decide, wait for the check's result if there is none yet, and say why when apt is refused. */
export async function runGate(context: AgentContext, options: GateOptions): Promise<GateResult> {
  const settings = context.manifest.aptGate
  const scope = gateScope(options.mode, await gatherGateFacts(context), settings)
  if (!scope.gated) return { verdict: 'not-gated', reason: scope.reason }

  const read = markerReader(context)
  const first = await read()
  let outcome = settled(first)
  let reading: MarkerReading | null = first
  let waitedMs = 0
  if (outcome === null) {
    options.onWait?.(
      `waiting up to ${settings.timeoutMs / 1000} s for the torified updates proxy check (${context.manifest.paths.updatesProxyCheckDir})`,
    )
    const waited = await waitForMarkers({
      directory: context.paths.updatesProxyCheckDir,
      read,
      timeoutMs: settings.timeoutMs,
      recheckMs: settings.recheckMs,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.stillWanted ? { stillWanted: options.stillWanted } : {}),
    })
    ;({ outcome, reading, waitedMs } = waited)
  }
  if (outcome === 'passed') return { verdict: 'passed', waitedMs }
  if (outcome === 'aborted') return { verdict: 'aborted' }

  const [name, health] = await Promise.all([templateName(context), (options.health ?? updatesQubeHealth)(context)])
  const text = refusalText({
    command: options.command,
    gate: options.gate,
    outcome,
    reading,
    directory: context.manifest.paths.updatesProxyCheckDir,
    markers: context.manifest.updatesProxy.markers,
    timeoutMs: settings.timeoutMs,
    templateName: name,
    health,
    help: settings.help,
    recheck: `sudo systemctl restart ${context.manifest.updatesProxy.check.unit}`,
    stopped: stoppedLine(options.mode.kind, context.manifest.updatesProxy.check.url),
  })
  return { verdict: 'refused', outcome, reading, text }
}
