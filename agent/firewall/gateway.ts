import {
  items,
  filterChains,
  malformed,
  neighbourDiscovery,
  replaceTables,
  SDWDATE_SOCKS_PORT,
  timesyncLoopbackRejects,
} from './nft-common'
import type { Settings } from './settings'
import type { FirewallPorts } from '../tor-ports/table'

/** What the gateway's ruleset depends on besides its settings. */
export interface GatewayFacts {
  readonly timesync: boolean
  readonly ports: FirewallPorts
  /** On a Qubes netvm/proxyvm, the uid of `vm-updates` (its new flows go into Tor); else null. */
  readonly vmUpdates: string | null
}

const on = (settings: Settings, name: keyof Settings) => settings[name] === '1'
const yes = (settings: Settings, name: keyof Settings) => settings[name] === 'true'

function input(s: Settings, facts: GatewayFacts): string[] {
  const rule = (match: string) => `add rule inet filter input ${match}`
  const vpn = on(s, 'VPN_FIREWALL')
  const ext = items(s.EXT_IF)
  const lines = [
    ...malformed('input', 'drop'),
    rule('iifname lo counter accept'),
    rule(
      `ct state ${on(s, 'GATEWAY_ALLOW_INCOMING_RELATED_STATE') ? 'related,established' : 'established'} counter accept`,
    ),
    ...(on(s, 'GATEWAY_ALLOW_INCOMING_ICMP_FRAG_NEEDED')
      ? [
          rule('icmp type destination-unreachable icmp code frag-needed ct state related counter accept'),
          rule('icmpv6 type packet-too-big ct state related counter accept'),
        ]
      : []),
    neighbourDiscovery('input'),
    ...(on(s, 'GATEWAY_ALLOW_INCOMING_ICMP')
      ? []
      : [rule('ip protocol icmp counter drop'), rule('ip6 nexthdr icmpv6 counter drop')]),
    ...(vpn ? [rule(`iifname ${s.VPN_INTERFACE} counter accept`)] : []),
    ...ext.flatMap((x) => [
      ...(on(s, 'GATEWAY_ALLOW_INCOMING_SSH') ? [rule(`iifname ${x} tcp dport 22 counter accept`)] : []),
      ...(on(s, 'GATEWAY_ALLOW_INCOMING_FLASHPROXY')
        ? [rule(`iifname ${x} tcp dport ${s.FLASHPROXY_PORT} counter accept`)]
        : []),
      ...items(s.EXTERNAL_OPEN_PORTS).map((port) => rule(`iifname ${x} tcp dport ${port} counter accept`)),
      ...items(s.EXTERNAL_UDP_OPEN_PORTS).map((port) => rule(`udp dport ${port} counter accept`)),
      ...(yes(s, 'EXTERNAL_OPEN_ALL') ? [rule('counter accept')] : []),
    ]),
  ]
  if (!facts.timesync) lines.push(...internalOpenings(s, facts))
  lines.push(rule('counter drop'))
  return lines
}

function internalOpenings(s: Settings, facts: GatewayFacts): string[] {
  const rule = (match: string) => `add rule inet filter input ${match}`
  return [
    ...items(s.EXT_IF).flatMap((x) => [
      ...(on(s, 'GATEWAY_ALLOW_INCOMING_DIR_PORT')
        ? [rule(`iifname ${x} tcp dport ${s.DIR_PORT} counter accept`)]
        : []),
      ...(on(s, 'GATEWAY_ALLOW_INCOMING_OR_PORT') ? [rule(`iifname ${x} tcp dport ${s.OR_PORT} counter accept`)] : []),
    ]),
    ...(on(s, 'WORKSTATION_TRANSPARENT_DNS')
      ? items(s.INT_TIF).map((x) => rule(`iifname ${x} udp dport ${s.DNS_PORT_WORKSTATION} counter accept`))
      : []),
    ...(on(s, 'WORKSTATION_TRANSPARENT_TCP')
      ? items(s.INT_IF).map((x) => rule(`iifname ${x} tcp dport ${s.TRANS_PORT_WORKSTATION} counter accept`))
      : []),
    ...items(s.INT_TIF).flatMap((x) => [
      ...(on(s, 'CONTROL_PORT_FILTER_PROXY_ENABLE')
        ? [rule(`iifname ${x} tcp dport ${s.CONTROL_PORT_FILTER_PROXY_PORT} counter accept`)]
        : []),
      ...(on(s, 'WORKSTATION_ALLOW_SOCKSIFIED')
        ? [
            ...items(s.INTERNAL_OPEN_PORTS).map((port) => rule(`iifname ${x} tcp dport ${port} counter accept`)),
            rule(`iifname ${x} tcp dport ${facts.ports.range} counter accept`),
          ]
        : []),
    ]),
  ]
}

function prerouting(s: Settings, facts: GatewayFacts): string[] {
  if (facts.timesync) return []
  const v4 = items(s.WORKSTATION_DEST_SOCKSIFIED)
  const v6 = items(s.WORKSTATION_DEST_SOCKSIFIED_IPV6)
  return items(s.INT_IF).flatMap((x) => {
    const rule = (match: string) => `add rule inet nat prerouting iifname ${x} ${match}`
    const toDestinations = (port: string, target: string) => [
      ...v4.map((d) => rule(`ip daddr ${d} tcp dport ${port} counter redirect${target}`)),
      ...v6.map((d) => rule(`ip6 daddr ${d} tcp dport ${port} counter redirect${target}`)),
    ]
    const cpfp = s.CONTROL_PORT_FILTER_PROXY_PORT
    return [
      ...(on(s, 'CONTROL_PORT_FILTER_PROXY_ENABLE') ? toDestinations(cpfp, ` to :${cpfp}`) : []),
      ...(on(s, 'WORKSTATION_ALLOW_SOCKSIFIED')
        ? [
            ...items(s.INTERNAL_OPEN_PORTS).flatMap((port) => toDestinations(port, ` to :${port}`)),
            ...toDestinations(facts.ports.range, ''),
          ]
        : []),
      ...(on(s, 'WORKSTATION_TRANSPARENT_DNS')
        ? [rule(`udp dport 53 counter redirect to :${s.DNS_PORT_WORKSTATION}`)]
        : []),
      ...(on(s, 'WORKSTATION_TRANSPARENT_TCP')
        ? [rule(`tcp flags & (fin|syn|rst|ack) == syn counter redirect to :${s.TRANS_PORT_WORKSTATION}`)]
        : []),
    ]
  })
}

function output(s: Settings, facts: GatewayFacts): string[] {
  const rule = (match: string) => `add rule inet filter output ${match}`
  const vpn = on(s, 'VPN_FIREWALL')
  const nets = (v4: keyof Settings, v6: keyof Settings) => [
    ...items(s[v4]).map((n) => rule(`ip daddr ${n} counter accept`)),
    ...items(s[v6]).map((n) => rule(`ip6 daddr ${n} counter accept`)),
  ]
  const loopbackOnly = (uid: string) =>
    uid === ''
      ? []
      : [rule(`skuid ${uid} ip daddr 127.0.0.1 counter accept`), rule(`skuid ${uid} ip6 daddr ::1 counter accept`)]
  return [
    ...(on(s, 'NO_REJECT_INVALID_OUTGOING_PACKAGES') ? [] : malformed('output', 'reject')),
    ...(vpn ? [rule(`oifname ${s.VPN_INTERFACE} counter accept`)] : []),
    rule('ct state established counter accept'),
    neighbourDiscovery('output'),
    ...(facts.timesync
      ? []
      : vpn
        ? nets('LOCAL_NET', 'LOCAL_NET_IP6')
        : nets('NON_TOR_GATEWAY', 'NON_TOR_GATEWAY_IP6')),
    ...(facts.timesync ? timesyncLoopbackRejects(items(s.INTERNAL_OPEN_PORTS), SDWDATE_SOCKS_PORT) : []),
    rule('oifname lo counter accept'),
    ...items(s.NO_NAT_USERS).map((uid) => rule(`skuid ${uid} counter accept`)),
    // The filter sees a DNAT'ed packet with the interface of its first route (eth0), not
    // lo: without this, vm-updates' flows sent into Tor by nat output would be rejected.
    ...(facts.vmUpdates !== null && !facts.timesync
      ? [
          rule(`skuid ${facts.vmUpdates} ip daddr 127.0.0.1 ct status dnat counter accept`),
          rule(`skuid ${facts.vmUpdates} ip6 daddr ::1 ct status dnat counter accept`),
        ]
      : []),
    ...(facts.timesync
      ? [
          ...loopbackOnly(s.SDWDATE_USER),
          ...loopbackOnly(s.SYSTEMCHECK_USER),
          rule(`ip daddr 127.0.0.1 tcp dport ${s.CONTROL_PORT_FILTER_PROXY_PORT} counter accept`),
          rule(`ip6 daddr ::1 tcp dport ${s.CONTROL_PORT_FILTER_PROXY_PORT} counter accept`),
        ]
      : []),
    rule('counter reject'),
  ]
}

function natOutput(s: Settings, facts: GatewayFacts): string[] {
  const rule = (match: string) => `add rule inet nat output ${match}`
  const full = !facts.timesync
  return [
    ...(facts.vmUpdates !== null && full
      ? [
          rule(`ip protocol udp skuid ${facts.vmUpdates} ct state new counter dnat to 127.0.0.1:${s.DNS_PORT_GATEWAY}`),
          rule(`ip6 nexthdr udp skuid ${facts.vmUpdates} ct state new counter dnat to [::1]:${s.DNS_PORT_GATEWAY}`),
          rule(
            `ip protocol tcp skuid ${facts.vmUpdates} ct state new counter dnat to 127.0.0.1:${s.TRANS_PORT_GATEWAY}`,
          ),
          rule(`ip6 nexthdr tcp skuid ${facts.vmUpdates} ct state new counter dnat to [::1]:${s.TRANS_PORT_GATEWAY}`),
        ]
      : []),
    ...items(s.NO_NAT_USERS).map((uid) => rule(`skuid ${uid} counter return`)),
    ...(full && on(s, 'GATEWAY_TRANSPARENT_DNS')
      ? [rule(`udp dport 53 counter redirect to :${s.DNS_PORT_GATEWAY}`)]
      : []),
    ...(full && !on(s, 'VPN_FIREWALL')
      ? [
          ...items(s.NON_TOR_GATEWAY).map((n) => rule(`ip daddr ${n} counter return`)),
          ...items(s.NON_TOR_GATEWAY_IP6).map((n) => rule(`ip6 daddr ${n} counter return`)),
        ]
      : []),
    ...(full && on(s, 'GATEWAY_TRANSPARENT_TCP')
      ? [rule(`tcp flags & (fin|syn|rst|ack) == syn counter redirect to :${s.TRANS_PORT_GATEWAY}`)]
      : []),
  ]
}

/**
 * Our one addition to upstream's rules: a packet from a workstation whose source address
 * is not routed back through the interface it came in on (a spoofed source) is dropped
 * before the redirects, so no reply to it can leave through eth0.
 */
const antiSpoof = (s: Settings): string[] => [
  'add chain inet filter prerouting { type filter hook prerouting priority -150; policy accept; }',
  ...items(s.INT_IF).map(
    (x) => `add rule inet filter prerouting iifname ${x} fib saddr . iif oif missing counter drop`,
  ),
]

/** The gateway's nft script, in upstream's emission order. */
export function gatewayScript(settings: Settings, facts: GatewayFacts): string[] {
  return [
    ...replaceTables(['inet nat', 'inet filter', 'ip6 nat']),
    ...filterChains(),
    'add chain inet nat prerouting { type nat hook prerouting priority -100; }',
    'add chain inet nat output { type nat hook output priority -100; }',
    'add chain ip6 nat output { type nat hook output priority -100; }',
    ...antiSpoof(settings),
    ...input(settings, facts),
    ...prerouting(settings, facts),
    'add rule inet filter forward counter reject',
    ...output(settings, facts),
    ...natOutput(settings, facts),
  ]
}
