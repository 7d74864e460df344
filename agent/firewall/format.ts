import type { CheckReport } from './check'
import type { FirewallPlan } from './plan'

/** The text of `firewall show`: role, mode, configuration, then the script. */
export function formatPlan(plan: FirewallPlan, verbose: boolean): string {
  const mode =
    plan.mode === plan.configuredMode
      ? plan.mode
      : `${plan.mode} (configured ${plan.configuredMode}; sdwdate succeeded)`
  // JSON quoting: a value with a newline or a control character stays one comment line.
  const settings = Object.entries(plan.settings).map(([name, value]) => `#   ${name}=${JSON.stringify(value)}`)
  return [
    `# role: ${plan.role} (${plan.why})`,
    `# mode: ${mode}`,
    `# configuration files: ${plan.files.length === 0 ? 'none' : plan.files.join(', ')}`,
    ...plan.warnings.map((warning) => `# warning: ${warning}`),
    ...(verbose ? ['# settings:', ...settings] : []),
    plan.script.trimEnd(),
  ].join('\n')
}

export function formatCheck(report: CheckReport): string {
  const head = report.inSync
    ? `firewall: the loaded ${report.plan.role} ruleset (${report.plan.mode}) is what the configuration gives`
    : `firewall: the loaded ruleset DIFFERS from what the configuration gives (${report.plan.role}, ${report.plan.mode})`
  return [
    head,
    ...report.missing.map((line) => `  - not loaded: ${line}`),
    ...report.extra.map((line) => `  + loaded, not generated: ${line}`),
  ].join('\n')
}
