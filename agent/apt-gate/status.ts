import type { AgentContext } from '../context'
import { gateScope } from './conditions'
import { gatherGateFacts, markerReader } from './facts'
import { settled } from './wait'

/** The gate's verdict for `status`: what apt would meet if it ran now. */
export interface AptGateStatus {
  readonly verdict: 'proceeds' | 'waits' | 'refuses' | 'not-gated'
  readonly reason: string
}

export async function aptGateStatus(context: AgentContext): Promise<AptGateStatus> {
  const scope = gateScope({ kind: 'any' }, await gatherGateFacts(context), context.manifest.aptGate)
  if (!scope.gated) return { verdict: 'not-gated', reason: scope.reason }
  const reading = await markerReader(context)()
  const directory = context.manifest.paths.updatesProxyCheckDir
  switch (settled(reading)) {
    case 'passed':
      return { verdict: 'proceeds', reason: 'the torified updates proxy check has passed' }
    case 'failed':
      return { verdict: 'refuses', reason: 'the torified updates proxy check has failed' }
    case 'unusable':
      return { verdict: 'refuses', reason: `the check's result in ${directory} cannot be read` }
    default: {
      const seconds = context.manifest.aptGate.timeoutMs / 1000
      const missing = reading.directory === 'missing' ? ` (${directory} does not exist yet)` : ''
      return { verdict: 'waits', reason: `no result yet${missing}: apt waits up to ${seconds} s for it` }
    }
  }
}
