import { roleDetails, roleRows, rows } from './role/format'
import type { Status } from './status'
import { lastCheckLines } from './updates-check/format'
import { protectedFilesSummary } from './protected-files/format'
import { torSettingsSummary } from './tor-settings/status'
import { stackedTorDetails, stackedTorSummary } from './stacked-tor/format'
import { daemonSummary } from './daemon/format'
import { formatFirewallStatus } from './firewall/status'

const VERDICT_TEXT: Readonly<Record<Status['updatesProxy']['verdict'], string>> = {
  passed: 'passed: the updates proxy leads to a Whonix-Gateway (torified)',
  failed: 'failed: the updates proxy is not torified; apt is refused',
  pending: 'pending: no result yet; apt waits for it',
  'not-applicable': 'not applicable (only Whonix templates check their updates proxy)',
}

/** The human-readable `status`; `--json` prints the object itself. */
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
