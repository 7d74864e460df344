import { aptGateStatus, type AptGateStatus } from '../apt-gate/status'
import type { AgentContext } from '../context'
import { queryDaemonStatus } from '../daemon/query'
import type { DaemonStatus } from '../daemon/status'
import { firewallStatus, type FirewallStatus } from '../firewall/status'
import { checkProtectedFiles, type ProtectedFilesReport } from '../protected-files/report'
import { currentRole, type Role } from '../role'
import { readMarkerState, type MarkerState } from '../updates-check/markers'
import { torSettingsStatus, type TorSettingsStatus } from '../tor-settings/status'

/** The answer of `status --json` and `whonix.Status`; each feature adds its own field. */
export interface Status {
  readonly schema: 1
  readonly role: Role
  readonly updatesProxy: MarkerState
  /** The agent daemon: running or not, its services, and its parts' status. */
  readonly daemon: DaemonStatus
  /** What apt would meet in this qube now (the apt gate). */
  readonly aptGate: AptGateStatus
  /** Whether Qubes leaves Whonix's files alone and they hold what Whonix expects. */
  readonly protectedFiles: ProtectedFilesReport
  /** On a Whonix-Gateway (not its template): Tor's network switch, bridges and bootstrap. */
  readonly tor?: TorSettingsStatus
  /** The Whonix firewall: role and mode loaded, fail-closed or not, drift since loading. */
  readonly firewall: FirewallStatus
}

export async function currentStatus(context: AgentContext, role?: Role, daemon?: DaemonStatus): Promise<Status> {
  const knownRole = role ?? (await currentRole(context))
  const gateway = knownRole.whonix === 'gateway' && knownRole.class !== 'template'
  const [updatesProxy, daemonStatus, aptGate, protectedFiles, firewall, tor] = await Promise.all([
    readMarkerState(context, knownRole),
    daemon ?? queryDaemonStatus(context),
    aptGateStatus(context),
    checkProtectedFiles(context, knownRole),
    firewallStatus(context, knownRole),
    gateway ? torSettingsStatus(context) : undefined,
  ])
  return {
    schema: 1,
    role: knownRole,
    updatesProxy,
    daemon: daemonStatus,
    aptGate,
    protectedFiles,
    firewall,
    ...(tor ? { tor } : {}),
  }
}
