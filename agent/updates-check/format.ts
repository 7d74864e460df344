import type { MarkerState } from './markers'

/** The last run's line under the verdict in `status`: always when it failed, otherwise with --verbose. */
export function lastCheckLines(state: MarkerState, verbose: boolean): string[] {
  const { report } = state
  if (!state.applicable || report === null || !(verbose || state.verdict === 'failed')) return []
  const tries = report.attempts > 0 ? ` after ${report.attempts} tr${report.attempts === 1 ? 'y' : 'ies'}` : ''
  return [
    `  last check (${report.finishedAt}): ${report.result}${tries} in ${(report.elapsedMs / 1000).toFixed(1)} s: ${report.detail}`,
  ]
}
