import type { Role } from './role'
import type { Status } from './status'
import { lastCheckLines } from './updates-check/format'
import { protectedFilesSummary } from './protected-files/format'
import { torSettingsSummary } from './tor-settings/status'
import { stackedTorDetails, stackedTorSummary } from './stacked-tor/format'
import { daemonSummary } from './daemon/format'
import { formatFirewallStatus } from './firewall/status'

/** Human-readable renderings of the JSON answers; `--json` prints the objects themselves. */
const yesNo = (value: boolean) => (value ? 'yes' : 'no')
const rows = (entries: readonly (readonly [string, string])[]) => {
  const width = Math.max(...entries.map(([label]) => label.length)) + 2
  return entries.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`)
}

function roleRows(role: Role): [string, string][] {
  return [
    ['Qubes qube', yesNo(role.qubes)],
    ['Whonix', role.whonix ?? 'none'],
    ['Class', role.class ?? 'unknown'],
    ['Provides network', yesNo(role.providesNetwork)],
    ['Persistence', role.persistence ?? 'unknown'],
    ['Name', role.name ?? 'unknown'],
    ['Qubes services', role.services.length > 0 ? role.services.join(', ') : 'none'],
  ]
}

function roleDetails(role: Role, verbose: boolean): string[] {
  const lines: string[] = []
  if (verbose) {
    lines.push('Evidence:')
    for (const [field, items] of Object.entries(role.evidence))
      for (const item of items) lines.push(`  ${field}: ${item}`)
  }
  for (const warning of role.warnings) lines.push(`warning: ${warning}`)
  return lines
}

export function formatRole(role: Role, verbose = false): string {
  return [...rows(roleRows(role)), ...roleDetails(role, verbose)].join('\n')
}

const VERDICT_TEXT: Readonly<Record<Status['updatesProxy']['verdict'], string>> = {
  passed: 'passed: the updates proxy leads to a Whonix-Gateway (torified)',
  failed: 'failed: the updates proxy is not torified; apt is refused',
  pending: 'pending: no result yet; apt waits for it',
  'not-applicable': 'not applicable (only Whonix templates check their updates proxy)',
}

export function formatStatus(status: Status, verbose = false): string {
  const workstation = status.role.whonix === 'workstation'
  return [
    ...rows([
      ...roleRows(status.role),
      ['Updates proxy check', VERDICT_TEXT[status.updatesProxy.verdict]],
      ['APT gate', `${status.aptGate.verdict}: ${status.aptGate.reason}`],
      ['Protected files', protectedFilesSummary(status.protectedFiles)],
      ...(status.tor ? [['Tor network', torSettingsSummary(status.tor)] as [string, string]] : []),
      ['Whonix firewall', formatFirewallStatus(status.firewall)],
      // Tor over Tor is a workstation's risk only: elsewhere the forwarders never run.
      ...(workstation ? [['Stacked-Tor forwarders', stackedTorSummary(status.daemon)] as const] : []),
      ['Agent daemon', daemonSummary(status.daemon)],
    ]),
    ...(workstation ? stackedTorDetails(status.daemon, verbose) : []),
    ...(verbose && status.updatesProxy.applicable
      ? [
          `  marker directory ${status.updatesProxy.directory}, secure proxy ${status.updatesProxy.secureProxy}, check done ${status.updatesProxy.checkDone}`,
        ]
      : []),
    ...lastCheckLines(status.updatesProxy, verbose),
    ...roleDetails(status.role, verbose),
  ].join('\n')
}
