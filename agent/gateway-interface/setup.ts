import { CodedError } from '../../rpc/errors'
import type { AgentContext } from '../context'
import type { QubesdbRead } from '../qubesdb/reader'
import type { Role } from '../role'
import type { Command, CommandResult } from '../run'
import { checkInterfaceAddresses, type InterfaceAddresses } from './addresses'
import { commandsFor, parseInterfaceState, showInterface, type InterfaceState, type IpTool } from './commands'

/** The answer of `gateway-interface`. */
export interface GatewayInterfaceReport {
  readonly applicable: boolean
  readonly reason: string
  readonly interface: string
  /** What was there before: nothing, an interface of the configured kind (dummy), or another kind (left alone). */
  readonly found: 'absent' | 'ours' | 'other' | null
  readonly addresses: InterfaceAddresses | null
  /** The command lines run (or, with dry run, that would run). */
  readonly commands: readonly string[]
  readonly result: 'created' | 'completed' | 'unchanged' | 'left-alone' | 'would-change' | 'skipped'
}

const QUBESDB_KEYS = {
  ipv4: '/qubes-netvm-gateway',
  netmask: '/qubes-netvm-netmask',
  ipv6: '/qubes-netvm-gateway6',
} as const

function applicability(role: Role): { applicable: boolean; reason: string } {
  if (!role.qubes) return { applicable: false, reason: 'not a Qubes qube' }
  if (role.whonix !== 'gateway') return { applicable: false, reason: 'not a Whonix-Gateway' }
  if (role.class === 'template')
    return { applicable: false, reason: 'a template: the interface belongs to the gateway AppVM' }
  if (role.class === null)
    return { applicable: false, reason: 'the qube class is unknown, so it may be a template; nothing done' }
  return { applicable: true, reason: `a Whonix-Gateway (${role.class})` }
}

function required(read: QubesdbRead, key: string): string {
  if (read.state === 'present') return read.value
  if (read.state === 'absent')
    throw new CodedError(
      'QUBESDB_MISSING',
      `qubesdb has no ${key} (does this gateway provide network? qvm-prefs sys-whonix provides_network)`,
    )
  throw new CodedError('BAD_ADDRESS', `qubesdb ${key}: ${read.reason}; refusing to configure the interface`)
}

async function readAddresses(context: AgentContext): Promise<InterfaceAddresses> {
  const read = (key: string) => context.qubesdb.read(key)
  const [ipv4, netmask, ipv6] = await Promise.all([
    read(QUBESDB_KEYS.ipv4),
    read(QUBESDB_KEYS.netmask),
    read(QUBESDB_KEYS.ipv6),
  ])
  if (ipv6.state === 'invalid' || ipv6.state === 'failed')
    throw new CodedError(
      'BAD_ADDRESS',
      `qubesdb ${QUBESDB_KEYS.ipv6}: ${ipv6.reason}; refusing to configure the interface`,
    )
  return checkInterfaceAddresses({
    ipv4: required(ipv4, QUBESDB_KEYS.ipv4),
    netmask: required(netmask, QUBESDB_KEYS.netmask),
    ipv6: ipv6.state === 'present' ? ipv6.value : null,
  })
}

function failure(command: Command, result: CommandResult): CodedError {
  const why =
    result.spawnError ??
    (result.timedOut ? 'timed out' : result.stderr.trim().split('\n')[0] || `exit ${result.exitCode ?? result.signal}`)
  return new CodedError('INTERFACE_COMMAND_FAILED', `${command.argv.join(' ')}: ${why}`, { command: command.argv })
}

async function run(context: AgentContext, command: Command): Promise<void> {
  const result = await context.run(command)
  if (result.exitCode !== 0) throw failure(command, result)
}

async function currentState(context: AgentContext, tool: IpTool, name: string): Promise<InterfaceState | null> {
  const command = showInterface(tool, name)
  const result = await context.run(command)
  if (result.exitCode === 0) return parseInterfaceState(result.stdout, name)
  // iproute2 says so on stderr and exits 1 when the device does not exist.
  if (/does not exist|Cannot find device/i.test(result.stderr)) return null
  throw failure(command, result)
}

/**
 * On a gateway AppVM: makes sure the internal interface exists (a dummy one, per the
 * manifest, when there is none), holds the addresses Qubes assigned and is up. Running it
 * again changes nothing.
 */
export async function setUpGatewayInterface(
  context: AgentContext,
  role: Role,
  options: { dryRun?: boolean } = {},
): Promise<GatewayInterfaceReport> {
  const { name, kind, ipProgram, timeoutMs } = context.manifest.gatewayInterface
  const { applicable, reason } = applicability(role)
  const base = { applicable, reason, interface: name }
  if (!applicable) return { ...base, found: null, addresses: null, commands: [], result: 'skipped' }
  const addresses = await readAddresses(context)
  const tool = { program: ipProgram, timeoutMs, kind }
  const state = await currentState(context, tool, name)
  const found = state === null ? 'absent' : state.kind === kind ? 'ours' : 'other'
  // A real interface of that name (not Qubes' usual setup) is not ours to change.
  if (found === 'other') return { ...base, found, addresses, commands: [], result: 'left-alone' }
  const commands = commandsFor(tool, name, state, addresses)
  const shown = commands.map((command) => command.argv.join(' '))
  if (commands.length === 0) return { ...base, found, addresses, commands: [], result: 'unchanged' }
  if (options.dryRun) return { ...base, found, addresses, commands: shown, result: 'would-change' }
  for (const command of commands) await run(context, command)
  return { ...base, found, addresses, commands: shown, result: state === null ? 'created' : 'completed' }
}
