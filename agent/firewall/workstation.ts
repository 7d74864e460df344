import {
  filterChains,
  items,
  malformed,
  neighbourDiscovery,
  replaceTables,
  SDWDATE_SOCKS_PORT,
  timesyncLoopbackRejects,
} from './nft-common'
import type { Settings } from './settings'

/** What the workstation's ruleset depends on besides its settings. */
export interface WorkstationFacts {
  readonly timesync: boolean
  readonly qubes: boolean
  /** Qubes' DNS addresses that qubesdb gave (primary, secondary), already checked. */
  readonly qubesDns: readonly string[]
}

const yes = (settings: Settings, name: keyof Settings) => settings[name] === 'true'

function input(s: Settings, facts: WorkstationFacts): string[] {
  const rule = (match: string) => `add rule inet filter input ${match}`
  return [
    ...malformed('input', 'drop'),
    rule('iifname lo counter accept'),
    rule('ct state established counter accept'),
    neighbourDiscovery('input'),
    ...(yes(s, 'TUNNEL_FIREWALL_ENABLE') ? [rule(`iifname ${s.VPN_INTERFACE} counter accept`)] : []),
    ...(facts.timesync
      ? []
      : [
          ...items(s.EXTERNAL_OPEN_PORTS).map((port) => rule(`tcp dport ${port} counter accept`)),
          ...items(s.EXTERNAL_UDP_OPEN_PORTS).map((port) => rule(`udp dport ${port} counter accept`)),
          ...(yes(s, 'EXTERNAL_OPEN_ALL') ? [rule('counter accept')] : []),
        ]),
    rule('ip protocol tcp counter reject with tcp reset'),
    rule('counter reject'),
  ]
}

/** Loopback and every gateway address, the destinations timesync and tunnel allowances use. */
function toGateway(s: Settings, match: string): string[] {
  const rule = (text: string) => `add rule inet filter output ${text}`
  return [
    rule(`${match}ip daddr 127.0.0.1 counter accept`),
    rule(`${match}ip6 daddr ::1 counter accept`),
    rule(`${match}ip daddr ${s.GATEWAY_IP} counter accept`),
    rule(`${match}ip6 daddr ${s.GATEWAY_IP6} counter accept`),
    rule(`${match}ip daddr ${s.GATEWAY_IP_HARDCODED} counter accept`),
    rule(`${match}ip6 daddr ${s.GATEWAY_IP6_HARDCODED} counter accept`),
  ]
}

const userToGateway = (s: Settings, uid: string) => (uid === '' ? [] : toGateway(s, `skuid ${uid} `))
// The control port filter proxy: its port follows the destination match.
const cpfpToGateway = (s: Settings) =>
  toGateway(s, '').map((line) =>
    line.replace(/ counter accept$/, ` tcp dport ${s.CONTROL_PORT_FILTER_PROXY_PORT} counter accept`),
  )

function dns(s: Settings, facts: WorkstationFacts): string[] {
  const rule = (match: string) => `add rule inet filter output ${match}`
  const pair = (v4: string, v6: string) => [
    rule(`ip daddr ${v4} udp dport 53 counter accept`),
    rule(`ip6 daddr ${v6} udp dport 53 counter accept`),
  ]
  const qubes = facts.qubes
    ? [
        ...facts.qubesDns.flatMap((address) => pair(address, `::ffff:${address}`)),
        ...(facts.qubesDns.length < 2 ? [rule('udp dport 53 counter accept')] : []),
      ]
    : []
  return [...pair(s.GATEWAY_IP, s.GATEWAY_IP6), ...pair(s.GATEWAY_IP_HARDCODED, s.GATEWAY_IP6_HARDCODED), ...qubes]
}

function plainOutput(s: Settings, facts: WorkstationFacts): string[] {
  const rule = (match: string) => `add rule inet filter output ${match}`
  const allowList = items(s.outgoing_allow_ip_list)
  return [
    ...(facts.timesync ? [] : dns(s, facts)),
    ...(yes(s, 'firewall_allow_udp') ? [] : [rule('ip protocol != tcp counter reject')]),
    ...(facts.timesync
      ? [...userToGateway(s, s.SDWDATE_USER), ...userToGateway(s, s.SYSTEMCHECK_USER), ...cpfpToGateway(s)]
      : []),
    ...(facts.timesync
      ? []
      : allowList.length === 0
        ? [rule('counter accept')]
        : allowList.flatMap((address) => [
            rule(`ip protocol tcp ip daddr ${address} counter accept`),
            rule(`ip6 nexthdr tcp ip6 daddr ::ffff:${address} counter accept`),
          ])),
  ]
}

function tunnelOutput(s: Settings, facts: WorkstationFacts): string[] {
  const rule = (match: string) => `add rule inet filter output ${match}`
  const full = !facts.timesync
  const gatewayPort = (port: string) => [
    rule(`ip daddr ${s.GATEWAY_IP} tcp dport ${port} counter accept`),
    rule(`ip6 daddr ${s.GATEWAY_IP6} tcp dport ${port} counter accept`),
    rule(`ip daddr ${s.GATEWAY_IP_HARDCODED} tcp dport ${port} counter accept`),
    rule(`ip6 daddr ${s.GATEWAY_IP6_HARDCODED} tcp dport ${port} counter accept`),
  ]
  return [
    ...(full
      ? [
          rule(`oifname ${s.VPN_INTERFACE} counter accept`),
          ...(s.TUNNEL_USER === '' ? [] : [rule(`skuid ${s.TUNNEL_USER} counter accept`)]),
        ]
      : []),
    ...(yes(s, 'TUNNEL_FIREWALL_ALLOW_SDWDATE_USER') ? userToGateway(s, s.SDWDATE_USER) : []),
    ...(yes(s, 'TUNNEL_FIREWALL_ALLOW_NOTUNNEL_USER') ? userToGateway(s, s.NOTUNNEL_USER) : []),
    ...(full && yes(s, 'TUNNEL_FIREWALL_ALLOW_LOCAL_NET')
      ? [
          ...items(s.LOCAL_NET).map((n) => rule(`ip daddr ${n} counter accept`)),
          ...items(s.LOCAL_NET_IP6).map((n) => rule(`ip6 daddr ${n} counter accept`)),
        ]
      : []),
    ...(yes(s, 'TUNNEL_FIREWALL_ALLOW_CONTROL_PORT_FILTER_PROXY') ? cpfpToGateway(s) : []),
    ...(full && yes(s, 'TUNNEL_FIREWALL_ALLOW_TB_UPDATER') ? gatewayPort('9115') : []),
    ...(full && yes(s, 'TUNNEL_FIREWALL_ALLOW_SYSTEMCHECK') ? userToGateway(s, s.SYSTEMCHECK_USER) : []),
  ]
}

/** The workstation's nft script (also loaded in every Whonix template), in upstream's order. */
export function workstationScript(s: Settings, facts: WorkstationFacts): string[] {
  const rule = (match: string) => `add rule inet filter output ${match}`
  return [
    ...replaceTables(['inet filter', 'inet nat']),
    'add chain inet nat output',
    'add chain inet nat prerouting',
    ...filterChains(),
    ...input(s, facts),
    'add rule inet filter forward counter drop',
    ...(s.NO_REJECT_INVALID_OUTGOING_PACKAGES === '1' ? [] : malformed('output', 'reject')),
    ...(facts.timesync ? timesyncLoopbackRejects(items(s.INTERNAL_OPEN_PORTS), SDWDATE_SOCKS_PORT) : []),
    rule('oifname lo counter accept'),
    ...(yes(s, 'TUNNEL_FIREWALL_ENABLE') ? tunnelOutput(s, facts) : plainOutput(s, facts)),
    rule('counter reject'),
  ]
}
