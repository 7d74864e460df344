import type { FirewallPorts } from '../tor-ports/table'

/**
 * Whonix's firewall variables: their names, what values they take and their defaults.
 * Upstream applies a default where a variable is unset OR empty, so "" means "default".
 */
export type Kind =
  | 'mode'
  | 'port'
  | 'ports'
  | 'iface'
  | 'ifaces'
  | 'net4s'
  | 'net6s'
  | 'addr4'
  | 'addr6'
  | 'uid'
  | 'uids'
  /** A switch that is on for exactly `1` (upstream's gateway switches). */
  | 'one'
  /** A switch that is on for exactly `true`. */
  | 'true'

export type FirewallRole = 'gateway' | 'workstation'

/** What defaults depend on. */
export interface DefaultFacts {
  readonly qubes: boolean
  readonly ports: FirewallPorts
  /** Account name -> uid, from the passwd file ('' when there is no such account). */
  readonly uid: (account: string) => string
  /** The workstation's gateway addresses from qubesdb (null: unreadable). */
  readonly gateway: { readonly ipv4: string | null; readonly ipv6: string | null }
}

export interface Variable {
  readonly kind: Kind
  readonly roles: readonly FirewallRole[]
  readonly fallback: (facts: DefaultFacts) => string
}

const BOTH: readonly FirewallRole[] = ['gateway', 'workstation']
const GW: readonly FirewallRole[] = ['gateway']
const WS: readonly FirewallRole[] = ['workstation']

const v = (
  kind: Kind,
  roles: readonly FirewallRole[],
  fallback: string | ((facts: DefaultFacts) => string),
): Variable => ({
  kind,
  roles,
  fallback: typeof fallback === 'string' ? () => fallback : fallback,
})
const account = (name: string) => v('uid', BOTH, (facts) => facts.uid(name))
const qubesOr = (qubes: string, other: string) => (facts: DefaultFacts) => (facts.qubes ? qubes : other)

const NON_QUBES_NETS = '127.0.0.0/8 192.168.0.0/24 192.168.1.0/24 10.152.152.0/24 10.0.2.2/24'
const NON_QUBES_NETS6 =
  '::1/128 fd19:c33d:88bc::0/96 ::ffff:127.0.0.0/104 ::ffff:192.168.0.0/120 ::ffff:192.168.1.0/120 ::ffff:10.152.152.0/120 ::ffff:10.0.2.2/120'
const QUBES_NETS = '127.0.0.0/8 10.137.0.0/16 10.138.0.0/16'
const QUBES_NETS6 =
  '::1/128 fd09:24ef:4179::a8a:0/112 fd09:24ef:4179::a89:0/112 ::ffff:127.0.0.0/104 ::ffff:10.137.0.0/112 ::ffff:10.138.0.0/112'

export const VARIABLES = {
  firewall_mode: v('mode', BOTH, 'full'),
  // Built-in ports are appended after the configuration's (see settings.ts), never replaced.
  INTERNAL_OPEN_PORTS: v('ports', BOTH, ''),
  CONTROL_PORT_FILTER_PROXY_PORT: v('port', BOTH, (facts) => String(facts.ports.controlFilter)),
  EXT_IF: v('ifaces', BOTH, 'eth0'),
  EXTERNAL_OPEN_PORTS: v('ports', BOTH, ''),
  EXTERNAL_UDP_OPEN_PORTS: v('ports', BOTH, ''),
  EXTERNAL_OPEN_ALL: v('true', BOTH, ''),
  NO_REJECT_INVALID_OUTGOING_PACKAGES: v('one', BOTH, ''),
  VPN_INTERFACE: v('iface', BOTH, 'tun0'),
  VPN_FIREWALL: v('one', BOTH, ''),
  TUNNEL_FIREWALL_ENABLE: v('true', BOTH, ''),
  firewall_allow_udp: v('true', WS, ''),
  outgoing_allow_ip_list: v('net4s', WS, ''),
  CLEARNET_USER: account('clearnet'),
  NOTUNNEL_USER: account('notunnel'),
  ROOT_USER: account('root'),
  SDWDATE_USER: account('sdwdate'),
  SYSTEMCHECK_USER: account('systemcheck'),
  TOR_USER: account('debian-tor'),
  TUNNEL_USER: account('tunnel'),
  UPDATESPROXYCHECK_USER: account('updatesproxycheck'),
  USER_USER: account('user'),
  LOCAL_NET: v('net4s', BOTH, qubesOr(QUBES_NETS, NON_QUBES_NETS)),
  LOCAL_NET_IP6: v('net6s', BOTH, qubesOr(QUBES_NETS6, NON_QUBES_NETS6)),

  INT_IF: v('ifaces', BOTH, (facts) => (facts.qubes ? 'vif*' : 'eth1')),
  INT_TIF: v('ifaces', GW, qubesOr('vif*', 'eth1')),
  TRANS_PORT_WORKSTATION: v('port', GW, (facts) => String(facts.ports.transPort)),
  DNS_PORT_WORKSTATION: v('port', GW, (facts) => String(facts.ports.dnsPort)),
  TRANS_PORT_GATEWAY: v('port', GW, (facts) => String(facts.ports.gatewayTransPort)),
  DNS_PORT_GATEWAY: v('port', GW, (facts) => String(facts.ports.gatewayDnsPort)),
  WORKSTATION_TRANSPARENT_TCP: v('one', GW, '1'),
  WORKSTATION_TRANSPARENT_DNS: v('one', GW, '1'),
  WORKSTATION_TRANSPARENT_UDP: v('one', GW, '0'),
  WORKSTATION_ALLOW_SOCKSIFIED: v('one', GW, '1'),
  CONTROL_PORT_FILTER_PROXY_ENABLE: v('one', GW, '1'),
  GATEWAY_TRANSPARENT_TCP: v('one', GW, '0'),
  GATEWAY_TRANSPARENT_DNS: v('one', GW, '0'),
  GATEWAY_TRANSPARENT_UDP: v('one', GW, '0'),
  GATEWAY_ALLOW_INCOMING_RELATED_STATE: v('one', GW, ''),
  GATEWAY_ALLOW_INCOMING_ICMP_FRAG_NEEDED: v('one', GW, '1'),
  GATEWAY_ALLOW_INCOMING_ICMP: v('one', GW, '0'),
  GATEWAY_ALLOW_INCOMING_SSH: v('one', GW, '0'),
  GATEWAY_ALLOW_INCOMING_FLASHPROXY: v('one', GW, '0'),
  FLASHPROXY_PORT: v('port', GW, '9000'),
  GATEWAY_ALLOW_INCOMING_DIR_PORT: v('one', GW, '0'),
  DIR_PORT: v('port', GW, '80'),
  GATEWAY_ALLOW_INCOMING_OR_PORT: v('one', GW, '0'),
  OR_PORT: v('port', GW, '443'),
  ALLOW_GATEWAY_ROOT_USER: v('one', GW, '0'),
  ALLOW_GATEWAY_USER_USER: v('one', GW, '0'),
  // Built-in users are appended after the configuration's (see settings.ts).
  NO_NAT_USERS: v('uids', GW, ''),
  NON_TOR_GATEWAY: v('net4s', GW, qubesOr('', NON_QUBES_NETS)),
  NON_TOR_GATEWAY_IP6: v('net6s', GW, qubesOr('', NON_QUBES_NETS6)),
  WORKSTATION_DEST_SOCKSIFIED: v('net4s', GW, qubesOr('10.137.0.0/16 10.138.0.0/16 10.152.152.10', '10.152.152.10')),
  WORKSTATION_DEST_SOCKSIFIED_IPV6: v(
    'net6s',
    GW,
    qubesOr(
      'fd09:24ef:4179::a8a:0/112 fd09:24ef:4179::a89:0/112 ::ffff:10.137.0.0/112 ::ffff:10.138.0.0/112 ::ffff:10.152.152.10 fd19:c33d:88bc::10',
      'fd19:c33d:88bc::10',
    ),
  ),

  GATEWAY_IP: v('addr4', WS, (facts) => (facts.qubes ? (facts.gateway.ipv4 ?? '127.0.0.1') : '10.152.152.10')),
  GATEWAY_IP6: v('addr6', WS, (facts) => (facts.qubes ? (facts.gateway.ipv6 ?? '::1') : 'fd19:c33d:88bc::10')),
  GATEWAY_IP_HARDCODED: v('addr4', WS, '10.152.152.10'),
  GATEWAY_IP6_HARDCODED: v('addr6', WS, 'fd19:c33d:88bc::10'),
  TUNNEL_FIREWALL_ALLOW_LOCAL_NET: v('true', WS, ''),
  TUNNEL_FIREWALL_ALLOW_SDWDATE_USER: v('true', WS, ''),
  TUNNEL_FIREWALL_ALLOW_NOTUNNEL_USER: v('true', WS, ''),
  TUNNEL_FIREWALL_ALLOW_SYSTEMCHECK: v('true', WS, ''),
  TUNNEL_FIREWALL_ALLOW_CONTROL_PORT_FILTER_PROXY: v('true', WS, ''),
  TUNNEL_FIREWALL_ALLOW_TB_UPDATER: v('true', WS, ''),
} as const satisfies Record<string, Variable>

export type VariableName = keyof typeof VARIABLES
export const VARIABLE_NAMES = Object.keys(VARIABLES) as VariableName[]
