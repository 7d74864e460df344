import type { AgentContext } from '../context'
import type { Io } from '../io'
import type { Role } from '../role'
import { torBrowserEnvironment } from '../tor-state/profile'
import { formatEndpoint } from './endpoint'
import { stackedTorMode, tableFor } from './part'

/**
 * The demo's stacked-Tor part: the forwarding table the daemon would start for this qube,
 * from its qubesdb. Not started here: its TCP listeners would be on the host's loopback.
 */
export async function demoStackedTor(context: AgentContext, role: Role, io: Io): Promise<void> {
  const mode = stackedTorMode(role, context.manifest.stackedTor)
  if (mode === null) return
  const table = await tableFor(mode, context)
  const width = Math.max(...table.plans.map((plan) => plan.name.length))
  const lines = table.plans.map(
    (plan) =>
      `  ${plan.name.padEnd(width)}  -> ${plan.target === null ? `nowhere (${plan.reason ?? 'no target'})` : formatEndpoint(plan.target)}`,
  )
  io.out(
    `# the daemon's stacked-Tor forwarders here (${mode}; not started in the demo: they would listen on this machine's loopback):\n${lines.join('\n')}`,
  )
  if (mode === 'workstation') {
    const environment = Object.entries(torBrowserEnvironment(context.manifest)).map(
      ([name, value]) => `${name}=${value}`,
    )
    io.out(`# Tor Browser's environment (${context.manifest.stackedTor.torBrowser.profile}): ${environment.join(' ')}`)
  }
}
