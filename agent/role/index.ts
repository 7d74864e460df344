import { join } from 'node:path'
import type { AgentContext } from '../context'
import { detectRole, type Role } from './detect'
import { gatherRoleFacts } from './facts'

export type { Role } from './detect'

export async function currentRole(context: AgentContext): Promise<Role> {
  const { manifest, paths, qubesdb } = context
  const facts = await gatherRoleFacts(paths, manifest.paths, manifest.qubes, qubesdb)
  return detectRole(facts, (group, key) =>
    join(
      manifest.paths.runQubes,
      (group === 'type' ? manifest.qubes.typeMarkers : manifest.qubes.persistenceMarkers)[key as never],
    ),
  )
}
