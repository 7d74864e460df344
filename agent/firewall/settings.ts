import { isIPv4, isIPv6 } from '../net/ip'
import { configError } from './drop-ins'
import {
  VARIABLES,
  VARIABLE_NAMES,
  type DefaultFacts,
  type FirewallRole,
  type Kind,
  type VariableName,
} from './variables'

/** Every variable with its effective value: the configuration's, else the default. */
export type Settings = Readonly<Record<VariableName, string>>

const split = (value: string) => value.split(/[ \t\n]+/).filter(Boolean)

const isPort = (text: string) => /^[0-9]{1,5}$/.test(text) && Number(text) >= 1 && Number(text) <= 65535
const isPortRun = (text: string) => {
  const [first = '', last, extra] = text.split('-')
  return extra === undefined && isPort(first) && (last === undefined || (isPort(last) && Number(last) > Number(first)))
}
const isNet = (family: 4 | 6) => (text: string) => {
  const [address = '', prefix, extra] = text.split('/')
  const valid = family === 4 ? isIPv4(address) : isIPv6(address) && !address.includes('%')
  return (
    valid &&
    extra === undefined &&
    (prefix === undefined || (/^[0-9]{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128)))
  )
}
// An interface name, or a prefix with nft's trailing `*` wildcard (`vif*`).
const isIface = (text: string) => /^[A-Za-z0-9_.-]{1,15}$/.test(text) || /^[A-Za-z0-9_.-]{1,14}\*$/.test(text)
const isUid = (text: string) => /^[0-9]{1,10}$/.test(text) && Number(text) < 2 ** 32 - 1

const ITEM: Readonly<
  Record<Exclude<Kind, 'mode' | 'one' | 'true'>, readonly [(text: string) => boolean, string, boolean]>
> = {
  port: [isPort, 'a port number 1-65535', false],
  ports: [isPortRun, 'port numbers or FIRST-LAST runs', true],
  iface: [isIface, 'an interface name', false],
  ifaces: [isIface, 'interface names (a trailing * matches a prefix)', true],
  net4s: [isNet(4), 'IPv4 addresses or networks (A.B.C.D/LEN)', true],
  net6s: [isNet(6), 'IPv6 addresses or networks', true],
  addr4: [isIPv4, 'an IPv4 address', false],
  addr6: [(text) => isIPv6(text) && !text.includes('%'), 'an IPv6 address', false],
  uid: [isUid, 'a numeric user id', false],
  uids: [isUid, 'numeric user ids', true],
}

const SWITCH: Readonly<Record<'one' | 'true' | 'mode', readonly string[]>> = {
  one: ['0', '1'],
  true: ['true', 'false'],
  mode: ['full', 'timesync-fail-closed'],
}

/** Throws a one-line FIREWALL_CONFIG error for a value the variable cannot take. */
export function checkValue(name: VariableName, untrustedValue: string): string {
  const { kind } = VARIABLES[name]
  const shown = `${name}=${JSON.stringify(untrustedValue.slice(0, 80))}`
  if (kind === 'one' || kind === 'true' || kind === 'mode') {
    if (!SWITCH[kind].includes(untrustedValue)) throw configError(`${shown}: expected ${SWITCH[kind].join(' or ')}`)
    return untrustedValue
  }
  const [valid, expected, isList] = ITEM[kind]
  const items = split(untrustedValue)
  if (!isList && items.length !== 1) throw configError(`${shown}: expected ${expected}`)
  const bad = items.find((item) => !valid(item))
  if (bad !== undefined) throw configError(`${shown}: ${JSON.stringify(bad.slice(0, 60))} is not ${expected}`)
  return items.join(' ')
}

/**
 * The effective settings for a role: configured values (empty means unset, as upstream),
 * then defaults; INTERNAL_OPEN_PORTS and NO_NAT_USERS get the built-in entries appended.
 * Only the role's variables are checked: the other role's stay as they are.
 */
export function effectiveSettings(
  untrustedConfigured: ReadonlyMap<string, string>,
  role: FirewallRole,
  facts: DefaultFacts,
  modeOverride?: string,
): Settings {
  const settings = {} as Record<VariableName, string>
  for (const name of VARIABLE_NAMES) {
    const variable = VARIABLES[name]
    const configured =
      name === 'firewall_mode' && modeOverride !== undefined ? modeOverride : (untrustedConfigured.get(name) ?? '')
    const value = configured === '' ? variable.fallback(facts) : configured
    settings[name] =
      (variable.roles as readonly string[]).includes(role) && value !== '' ? checkValue(name, value) : value
  }
  if (settings.ROOT_USER === '') throw configError('there is no root account in the passwd file')
  // Either name turns the tunnel (VPN) behaviour on, on either role.
  if (settings.TUNNEL_FIREWALL_ENABLE === 'true') settings.VPN_FIREWALL = '1'
  if (settings.VPN_FIREWALL === '1') settings.TUNNEL_FIREWALL_ENABLE = 'true'
  settings.INTERNAL_OPEN_PORTS = [...split(settings.INTERNAL_OPEN_PORTS), ...facts.ports.socks.map(String)].join(' ')
  if (role === 'gateway') settings.NO_NAT_USERS = noNatUsers(settings).join(' ')
  return settings
}

function noNatUsers(settings: Record<VariableName, string>): string[] {
  return [
    ...split(settings.NO_NAT_USERS),
    settings.CLEARNET_USER,
    settings.TUNNEL_USER,
    settings.ALLOW_GATEWAY_USER_USER === '1' ? settings.USER_USER : '',
    settings.ALLOW_GATEWAY_ROOT_USER === '1' ? settings.ROOT_USER : '',
    settings.VPN_FIREWALL === '1' ? '' : settings.TOR_USER,
  ].filter(Boolean)
}

export const list = (settings: Settings, name: VariableName): string[] => split(settings[name])
