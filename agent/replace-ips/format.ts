import type { ReplaceIpsReport } from './apply'

/** The text of `replace-ips`. */
export function formatReplaceIps(report: ReplaceIpsReport, verbose: boolean): string {
  if (!report.applicable) return `replace-ips: nothing to do: ${report.reason}`
  const lines = [`replace-ips${report.dryRun ? ' (dry run: nothing written)' : ''}: ${report.reason}`]
  for (const plan of report.addresses) {
    if (plan.state === 'assigned')
      lines.push(`  ${plan.qubesdb} = ${plan.current ?? ''}: replaces ${plan.replaces.join(', ')}`)
    else lines.push(`  ${plan.qubesdb}: ${plan.state}${plan.detail ? ` (${plan.detail})` : ''}`)
  }
  for (const file of report.files)
    if (verbose || file.result !== 'missing')
      lines.push(`  ${file.result.padEnd(12)} ${file.path}${file.detail ? `: ${file.detail}` : ''}`)
  for (const saved of report.saved) {
    const earlier = saved.earlier ? `; kept for the files not rewritten: ${saved.earlier.join(', ')}` : ''
    lines.push(
      `  saved ${saved.file} = ${saved.address}: ${saved.result}${saved.detail ? ` (${saved.detail})` : ''}${earlier}`,
    )
  }
  if (report.tor !== null)
    lines.push(`  ${report.tor.unit}: ${report.tor.action}${report.tor.detail ? ` (${report.tor.detail})` : ''}`)
  for (const problem of report.problems) lines.push(`problem: ${problem}`)
  return lines.join('\n')
}
