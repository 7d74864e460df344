import type { AgentContext } from '../context'
import { runCommand, spawnCommand, type Runner } from '../run'

/**
 * The firewall's programs (bash, nft) need no shell in between: on the boot path, zx's extra
 * shell would double the processes and add milliseconds to every load. A runner a caller
 * put in the context (tests, simulations) is used as it is.
 */
export const firewallRunner = (context: AgentContext): Runner =>
  context.run === runCommand ? spawnCommand : context.run
