import { aptGateStatus, type AptGateStatus } from '../apt-gate/status'
import type { AgentContext } from '../context'
import { queryDaemonStatus } from '../daemon/query'
import type { DaemonStatus } from '../daemon/status'
import { checkProtectedFiles, type ProtectedFilesReport } from '../protected-files/report'
import { currentRole, type Role } from '../role'
import { readMarkerState, type MarkerState } from '../updates-check/markers'

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
}

export async function currentStatus(context: AgentContext, role?: Role, daemon?: DaemonStatus): Promise<Status> {
  const knownRole = role ?? (await currentRole(context))
  const [updatesProxy, daemonStatus, aptGate, protectedFiles] = await Promise.all([readMarkerState(context, knownRole), daemon ?? queryDaemonStatus(context), aptGateStatus(context), checkProtectedFiles(context, knownRole)])
  return { schema: 1, role: knownRole, updatesProxy, daemon: daemonStatus, aptGate, protectedFiles }
}
