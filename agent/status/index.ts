import type { AgentContext } from '../context'
import { currentRole, type Role } from '../role'
import { readMarkerState, type MarkerState } from '../updates-proxy/markers'

/** The answer of `status --json` and `whonix.Status`; each feature adds its own field. */
export interface Status {
  readonly schema: 1
  readonly role: Role
  readonly updatesProxy: MarkerState
}

export async function currentStatus(context: AgentContext, role?: Role): Promise<Status> {
  const knownRole = role ?? (await currentRole(context))
  const updatesProxy = await readMarkerState(context, knownRole)
  return { schema: 1, role: knownRole, updatesProxy }
}
