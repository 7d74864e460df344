import { firewallRunner } from './runner'
import { access } from 'node:fs/promises'
import { CodedError } from '../../rpc/errors'
import type { AgentContext } from '../context'
import { isIPv4, isIPv6 } from '../net/ip'
import type { Role } from '../role'
import { firewallPorts, internalPorts } from '../tor-ports/table'
import { dropInFiles } from './drop-ins'
import { gatewayScript } from './gateway'
import { SHEBANG } from './nft-common'
import { readAccounts } from './passwd'
import { effectiveSettings, list, type Settings } from './settings'
import { sourceDropIns } from './source'
import { VARIABLE_NAMES, type FirewallRole } from './variables'
import { workstationScript } from './workstation'

export type FirewallMode = 'full' | 'timesync-fail-closed'

/** Everything `firewall show` prints and `apply` loads. */
export interface FirewallPlan {
  readonly role: FirewallRole
  readonly why: string
  readonly configuredMode: FirewallMode
  /** The mode in force: timesync-fail-closed turns full once sdwdate succeeded. */
  readonly mode: FirewallMode
  readonly files: readonly string[]
  readonly settings: Settings
  /** The nft script, shebang first, one command a line. */
  readonly script: string
  /** Tables the script owns (what `check` compares). */
  readonly tables: readonly string[]
  readonly warnings: readonly string[]
}

/** Which ruleset a qube gets; upstream loads the workstation's in every (Whonix) template. */
export function firewallRole(role: Role): { role: FirewallRole; why: string } {
  if (role.whonix !== null && role.class === 'template')
    return { role: 'workstation', why: 'a Whonix template: the workstation ruleset, as upstream' }
  if (role.whonix === 'gateway') return { role: 'gateway', why: 'a Whonix-Gateway' }
  if (role.whonix === 'workstation') return { role: 'workstation', why: 'a Whonix-Workstation' }
  throw new CodedError('NOT_WHONIX', 'not a Whonix qube: the Whonix firewall does not apply here', { exitCode: 5 })
}

async function qubesAddress(context: AgentContext, key: string, family: 4 | 6): Promise<string | null> {
  const read = await context.qubesdb.read(key)
  if (read.state !== 'present') return null
  const valid = family === 4 ? isIPv4(read.value) : isIPv6(read.value) && !read.value.includes('%')
  return valid ? read.value : null
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  )

async function sdwdateSucceeded(context: AgentContext): Promise<boolean> {
  const found = await Promise.all(
    context.manifest.firewall.sdwdateSuccess.map((path) => exists(context.paths.under(path))),
  )
  return found.includes(true)
}

function portWarnings(context: AgentContext, settings: Settings): string[] {
  const listening = internalPorts(context.manifest.torPorts)
  const named = ['TRANS_PORT_WORKSTATION', 'DNS_PORT_WORKSTATION', 'CONTROL_PORT_FILTER_PROXY_PORT'] as const
  return [
    ...named
      .filter((name) => !listening.has(Number(settings[name])))
      .map((name) => `${name}=${settings[name]} is not a port of the ports table: nothing of Tor listens there`),
    ...list(settings, 'INTERNAL_OPEN_PORTS')
      .filter((port) => !listening.has(Number(port)))
      .map((port) => `INTERNAL_OPEN_PORTS ${port} is opened but not a port of the ports table`),
  ]
}

export async function planFirewall(
  context: AgentContext,
  role: Role,
  options: { mode?: string } = {},
): Promise<FirewallPlan> {
  const { firewall } = context.manifest
  const which = firewallRole(role)
  const ports = firewallPorts(context.manifest.torPorts)
  const uid = await readAccounts(context.paths.under(firewall.passwd), context.paths.root)
  const workstationOnQubes = which.role === 'workstation' && role.qubes
  const [ipv4, ipv6, dns1, dns2] = workstationOnQubes
    ? await Promise.all([
        qubesAddress(context, '/qubes-gateway', 4),
        qubesAddress(context, '/qubes-gateway6', 6),
        qubesAddress(context, '/qubes-primary-dns', 4),
        qubesAddress(context, '/qubes-secondary-dns', 4),
      ])
    : [null, null, null, null]
  const files = await dropInFiles(
    firewall.dropInDirs.map((dir) => context.paths.under(dir)),
    firewall.maxDropInBytes,
  )
  const configured = await sourceDropIns(
    firewallRunner(context),
    firewall.bashProgram,
    VARIABLE_NAMES,
    files,
    firewall.timeoutMs,
  )
  const settings = effectiveSettings(
    configured,
    which.role,
    { qubes: role.qubes, ports, uid, gateway: { ipv4, ipv6 } },
    options.mode,
  )
  const configuredMode = settings.firewall_mode as FirewallMode
  const timesync = configuredMode === 'timesync-fail-closed' && !(await sdwdateSucceeded(context))
  const lines =
    which.role === 'gateway'
      ? gatewayScript(settings, {
          timesync,
          ports,
          vmUpdates: role.qubes && role.providesNetwork && uid('vm-updates') !== '' ? uid('vm-updates') : null,
        })
      : workstationScript(settings, {
          timesync,
          qubes: role.qubes,
          qubesDns: [dns1, dns2].filter((address) => address !== null),
        })
  return {
    ...which,
    configuredMode,
    mode: timesync ? 'timesync-fail-closed' : 'full',
    files,
    settings,
    script: `${[SHEBANG, ...lines].join('\n')}\n`,
    tables: which.role === 'gateway' ? ['inet filter', 'inet nat', 'ip6 nat'] : ['inet filter', 'inet nat'],
    warnings: which.role === 'gateway' ? portWarnings(context, settings) : [],
  }
}
