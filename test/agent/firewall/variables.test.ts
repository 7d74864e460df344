import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { VARIABLE_NAMES } from '../../../agent/firewall/variables'
import { canUseNetns, requirePart } from '../../helpers/parts'
import { planFor, UIDS } from './qube'

// One case per firewall variable: its value in a drop-in (read by the real bash), and the
// rules that setting adds or removes, as Whonix's firewall does. Each script is then
// checked by the real nft in a network namespace of its own.
const nft = requirePart('nft', 'nftables')
const netns = canUseNetns()

type Role = 'gateway' | 'workstation'
interface Case {
  readonly role: Role
  readonly conf: string
  readonly present?: readonly string[]
  readonly absent?: readonly string[]
  /** The script is exactly the default one (a switch upstream defines but never uses). */
  readonly noEffect?: true
}

const TUNNEL = 'TUNNEL_FIREWALL_ENABLE=true\n'
const TIMESYNC = 'firewall_mode=timesync-fail-closed\n'
const gw = (conf: string, present: string[] = [], absent: string[] = []): Case => ({
  role: 'gateway',
  conf,
  present,
  absent,
})
const ws = (conf: string, present: string[] = [], absent: string[] = []): Case => ({
  role: 'workstation',
  conf,
  present,
  absent,
})

const CASES: Record<(typeof VARIABLE_NAMES)[number], Case> = {
  firewall_mode: gw(
    TIMESYNC,
    ['output ip daddr 127.0.0.1 tcp dport 9050 counter reject'],
    ['redirect to :9040', 'tcp dport 9108 counter reject', 'iifname vif* tcp dport 9050 counter accept'],
  ),
  INTERNAL_OPEN_PORTS: gw('INTERNAL_OPEN_PORTS+=" 80 "\n', [
    'input iifname vif* tcp dport 80 counter accept',
    'iifname vif* ip daddr 10.137.0.0/16 tcp dport 80 counter redirect to :80',
    'input iifname vif* tcp dport 9050 counter accept',
  ]),
  CONTROL_PORT_FILTER_PROXY_PORT: gw(
    'CONTROL_PORT_FILTER_PROXY_PORT=9999\n',
    ['input iifname vif* tcp dport 9999 counter accept', 'tcp dport 9999 counter redirect to :9999'],
    ['tcp dport 9051'],
  ),
  EXT_IF: gw('EXT_IF="eth0 eth2"\nGATEWAY_ALLOW_INCOMING_SSH=1\n', [
    'input iifname eth0 tcp dport 22 counter accept',
    'input iifname eth2 tcp dport 22 counter accept',
  ]),
  EXTERNAL_OPEN_PORTS: gw('EXTERNAL_OPEN_PORTS+=" 8080 "\n', ['input iifname eth0 tcp dport 8080 counter accept']),
  EXTERNAL_UDP_OPEN_PORTS: gw('EXTERNAL_UDP_OPEN_PORTS=5353\n', [
    'add rule inet filter input udp dport 5353 counter accept',
  ]),
  EXTERNAL_OPEN_ALL: gw('EXTERNAL_OPEN_ALL=true\n', ['add rule inet filter input counter accept']),
  NO_REJECT_INVALID_OUTGOING_PACKAGES: gw(
    'NO_REJECT_INVALID_OUTGOING_PACKAGES=1\n',
    ['input ct state invalid counter drop'],
    ['output ct state invalid counter reject'],
  ),
  VPN_INTERFACE: gw(
    'VPN_FIREWALL=1\nVPN_INTERFACE=tun7\n',
    ['input iifname tun7 counter accept', 'output oifname tun7 counter accept'],
    ['tun0'],
  ),
  VPN_FIREWALL: gw(
    'VPN_FIREWALL=1\n',
    ['input iifname tun0 counter accept', 'output oifname tun0 counter accept'],
    [`skuid ${UIDS['debian-tor']} counter accept`],
  ),
  TUNNEL_FIREWALL_ENABLE: gw(
    TUNNEL,
    ['output oifname tun0 counter accept'],
    [`skuid ${UIDS['debian-tor']} counter accept`],
  ),
  firewall_allow_udp: ws('firewall_allow_udp=true\n', ['output counter accept'], ['ip protocol != tcp counter reject']),
  outgoing_allow_ip_list: ws(
    'outgoing_allow_ip_list="198.51.100.1 203.0.113.5"\n',
    [
      'output ip protocol tcp ip daddr 198.51.100.1 counter accept',
      'output ip6 nexthdr tcp ip6 daddr ::ffff:203.0.113.5 counter accept',
    ],
    ['add rule inet filter output counter accept'],
  ),
  CLEARNET_USER: gw(
    'CLEARNET_USER=5555\n',
    ['output skuid 5555 counter accept', 'nat output skuid 5555 counter return'],
    [`skuid ${UIDS.clearnet} `],
  ),
  NOTUNNEL_USER: ws(`${TUNNEL}TUNNEL_FIREWALL_ALLOW_NOTUNNEL_USER=true\nNOTUNNEL_USER=5556\n`, [
    'output skuid 5556 ip daddr 127.0.0.1 counter accept',
  ]),
  ROOT_USER: gw('ALLOW_GATEWAY_ROOT_USER=1\nROOT_USER=5557\n', ['output skuid 5557 counter accept'], ['skuid 0 ']),
  SDWDATE_USER: gw(`${TIMESYNC}SDWDATE_USER=5558\n`, [
    'output skuid 5558 ip daddr 127.0.0.1 counter accept',
    'output skuid 5558 ip6 daddr ::1 counter accept',
  ]),
  SYSTEMCHECK_USER: gw(`${TIMESYNC}SYSTEMCHECK_USER=5559\n`, ['output skuid 5559 ip daddr 127.0.0.1 counter accept']),
  TOR_USER: gw('TOR_USER=5560\n', ['output skuid 5560 counter accept'], [`skuid ${UIDS['debian-tor']} `]),
  TUNNEL_USER: gw('TUNNEL_USER=5561\n', ['output skuid 5561 counter accept'], [`skuid ${UIDS.tunnel} `]),
  UPDATESPROXYCHECK_USER: { role: 'gateway', conf: 'UPDATESPROXYCHECK_USER=5562\n', noEffect: true },
  USER_USER: gw('ALLOW_GATEWAY_USER_USER=1\nUSER_USER=5563\n', ['output skuid 5563 counter accept']),
  LOCAL_NET: gw(
    'VPN_FIREWALL=1\nLOCAL_NET="10.200.0.0/16"\n',
    ['output ip daddr 10.200.0.0/16 counter accept'],
    ['output ip daddr 10.137.0.0/16 counter accept'],
  ),
  LOCAL_NET_IP6: gw('VPN_FIREWALL=1\nLOCAL_NET_IP6="fd00:99::/64"\n', ['output ip6 daddr fd00:99::/64 counter accept']),
  INT_IF: gw(
    'INT_IF=eth1\n',
    [
      'prerouting iifname eth1 tcp flags & (fin|syn|rst|ack) == syn counter redirect to :9040',
      'input iifname eth1 tcp dport 9040 counter accept',
      'prerouting iifname eth1 fib saddr . iif oif missing counter drop',
    ],
    ['redirect to :9040 ', 'iifname vif* tcp dport 9040'],
  ),
  INT_TIF: gw(
    'INT_TIF=eth1\n',
    [
      'input iifname eth1 udp dport 5300 counter accept',
      'input iifname eth1 tcp dport 9050 counter accept',
      'input iifname vif* tcp dport 9040 counter accept',
    ],
    ['input iifname vif* tcp dport 9050'],
  ),
  TRANS_PORT_WORKSTATION: gw(
    'TRANS_PORT_WORKSTATION=9999\n',
    ['redirect to :9999', 'input iifname vif* tcp dport 9999 counter accept'],
    ['redirect to :9040'],
  ),
  DNS_PORT_WORKSTATION: gw(
    'DNS_PORT_WORKSTATION=5353\n',
    ['udp dport 53 counter redirect to :5353', 'input iifname vif* udp dport 5353 counter accept'],
    ['5300'],
  ),
  TRANS_PORT_GATEWAY: gw(
    'GATEWAY_TRANSPARENT_TCP=1\nTRANS_PORT_GATEWAY=9998\n',
    ['dnat to 127.0.0.1:9998', 'nat output tcp flags & (fin|syn|rst|ack) == syn counter redirect to :9998'],
    ['9041'],
  ),
  DNS_PORT_GATEWAY: gw(
    'DNS_PORT_GATEWAY=5401\n',
    ['udp skuid 4109 ct state new counter dnat to 127.0.0.1:5401', 'dnat to [::1]:5401'],
    ['5400'],
  ),
  WORKSTATION_TRANSPARENT_TCP: gw(
    'WORKSTATION_TRANSPARENT_TCP=0\n',
    ['redirect to :5300'],
    ['redirect to :9040', 'tcp dport 9040'],
  ),
  WORKSTATION_TRANSPARENT_DNS: gw(
    'WORKSTATION_TRANSPARENT_DNS=0\n',
    ['redirect to :9040'],
    ['redirect to :5300', 'udp dport 5300'],
  ),
  WORKSTATION_TRANSPARENT_UDP: { role: 'gateway', conf: 'WORKSTATION_TRANSPARENT_UDP=1\n', noEffect: true },
  WORKSTATION_ALLOW_SOCKSIFIED: gw(
    'WORKSTATION_ALLOW_SOCKSIFIED=0\n',
    ['redirect to :9040', 'input iifname vif* tcp dport 9051 counter accept', 'oifname lo counter accept'],
    ['tcp dport 9050', 'tcp dport 9152-9229'],
  ),
  CONTROL_PORT_FILTER_PROXY_ENABLE: gw(
    'CONTROL_PORT_FILTER_PROXY_ENABLE=0\n',
    ['tcp dport 9050 counter accept'],
    ['9051'],
  ),
  GATEWAY_TRANSPARENT_TCP: gw('GATEWAY_TRANSPARENT_TCP=1\n', [
    'add rule inet nat output tcp flags & (fin|syn|rst|ack) == syn counter redirect to :9041',
  ]),
  GATEWAY_TRANSPARENT_DNS: gw('GATEWAY_TRANSPARENT_DNS=1\n', [
    'add rule inet nat output udp dport 53 counter redirect to :5400',
  ]),
  GATEWAY_TRANSPARENT_UDP: { role: 'gateway', conf: 'GATEWAY_TRANSPARENT_UDP=1\n', noEffect: true },
  GATEWAY_ALLOW_INCOMING_RELATED_STATE: gw(
    'GATEWAY_ALLOW_INCOMING_RELATED_STATE=1\n',
    ['input ct state related,established counter accept'],
    ['input ct state established counter accept'],
  ),
  GATEWAY_ALLOW_INCOMING_ICMP_FRAG_NEEDED: gw(
    'GATEWAY_ALLOW_INCOMING_ICMP_FRAG_NEEDED=0\n',
    [],
    ['frag-needed', 'packet-too-big'],
  ),
  GATEWAY_ALLOW_INCOMING_ICMP: gw(
    'GATEWAY_ALLOW_INCOMING_ICMP=1\n',
    ['input counter drop'],
    ['ip protocol icmp counter drop', 'ip6 nexthdr icmpv6 counter drop'],
  ),
  GATEWAY_ALLOW_INCOMING_SSH: gw('GATEWAY_ALLOW_INCOMING_SSH=1\n', ['input iifname eth0 tcp dport 22 counter accept']),
  GATEWAY_ALLOW_INCOMING_FLASHPROXY: gw('GATEWAY_ALLOW_INCOMING_FLASHPROXY=1\n', [
    'input iifname eth0 tcp dport 9000 counter accept',
  ]),
  FLASHPROXY_PORT: gw(
    'GATEWAY_ALLOW_INCOMING_FLASHPROXY=1\nFLASHPROXY_PORT=9001\n',
    ['input iifname eth0 tcp dport 9001 counter accept'],
    ['dport 9000 '],
  ),
  GATEWAY_ALLOW_INCOMING_DIR_PORT: gw('GATEWAY_ALLOW_INCOMING_DIR_PORT=1\n', [
    'input iifname eth0 tcp dport 80 counter accept',
  ]),
  DIR_PORT: gw(
    'GATEWAY_ALLOW_INCOMING_DIR_PORT=1\nDIR_PORT=8081\n',
    ['input iifname eth0 tcp dport 8081 counter accept'],
    ['eth0 tcp dport 80 '],
  ),
  GATEWAY_ALLOW_INCOMING_OR_PORT: gw('GATEWAY_ALLOW_INCOMING_OR_PORT=1\n', [
    'input iifname eth0 tcp dport 443 counter accept',
  ]),
  OR_PORT: gw(
    'GATEWAY_ALLOW_INCOMING_OR_PORT=1\nOR_PORT=9002\n',
    ['input iifname eth0 tcp dport 9002 counter accept'],
    ['dport 443 '],
  ),
  ALLOW_GATEWAY_ROOT_USER: gw('ALLOW_GATEWAY_ROOT_USER=1\n', [
    'output skuid 0 counter accept',
    'nat output skuid 0 counter return',
  ]),
  ALLOW_GATEWAY_USER_USER: gw('ALLOW_GATEWAY_USER_USER=1\n', [`output skuid ${UIDS.user} counter accept`]),
  NO_NAT_USERS: gw('NO_NAT_USERS+=" $(echo 7777) "\n', [
    `output skuid 7777 counter accept\nadd rule inet filter output skuid ${UIDS.clearnet} counter accept`,
  ]),
  NON_TOR_GATEWAY: gw('NON_TOR_GATEWAY=192.168.5.0/24\n', [
    'output ip daddr 192.168.5.0/24 counter accept',
    'nat output ip daddr 192.168.5.0/24 counter return',
  ]),
  NON_TOR_GATEWAY_IP6: gw('NON_TOR_GATEWAY_IP6=fd00:5::/64\n', [
    'output ip6 daddr fd00:5::/64 counter accept',
    'nat output ip6 daddr fd00:5::/64 counter return',
  ]),
  WORKSTATION_DEST_SOCKSIFIED: gw(
    'WORKSTATION_DEST_SOCKSIFIED=10.152.152.10\n',
    ['ip daddr 10.152.152.10 tcp dport 9050 counter redirect to :9050'],
    ['ip daddr 10.137.0.0/16'],
  ),
  WORKSTATION_DEST_SOCKSIFIED_IPV6: gw(
    'WORKSTATION_DEST_SOCKSIFIED_IPV6=fd19:c33d:88bc::10\n',
    ['ip6 daddr fd19:c33d:88bc::10 tcp dport 9050 counter redirect to :9050'],
    ['ip6 daddr fd09:24ef:4179::a8a:0/112'],
  ),
  GATEWAY_IP: ws(
    'GATEWAY_IP=10.137.0.99\n',
    ['output ip daddr 10.137.0.99 udp dport 53 counter accept'],
    ['ip daddr 10.137.0.8 '],
  ),
  GATEWAY_IP6: ws('GATEWAY_IP6=fd00::99\n', ['output ip6 daddr fd00::99 udp dport 53 counter accept']),
  GATEWAY_IP_HARDCODED: ws(
    'GATEWAY_IP_HARDCODED=10.152.152.99\n',
    ['output ip daddr 10.152.152.99 udp dport 53 counter accept'],
    ['10.152.152.10'],
  ),
  GATEWAY_IP6_HARDCODED: ws(
    'GATEWAY_IP6_HARDCODED=fd19::99\n',
    ['output ip6 daddr fd19::99 udp dport 53 counter accept'],
    ['fd19:c33d:88bc::10'],
  ),
  TUNNEL_FIREWALL_ALLOW_LOCAL_NET: ws(`${TUNNEL}TUNNEL_FIREWALL_ALLOW_LOCAL_NET=true\n`, [
    'output ip daddr 10.137.0.0/16 counter accept',
    'output ip6 daddr fd09:24ef:4179::a8a:0/112 counter accept',
  ]),
  TUNNEL_FIREWALL_ALLOW_SDWDATE_USER: ws(`${TUNNEL}TUNNEL_FIREWALL_ALLOW_SDWDATE_USER=true\n`, [
    `output skuid ${UIDS.sdwdate} ip daddr 127.0.0.1 counter accept`,
    `output skuid ${UIDS.sdwdate} ip daddr 10.137.0.8 counter accept`,
  ]),
  TUNNEL_FIREWALL_ALLOW_NOTUNNEL_USER: ws(`${TUNNEL}TUNNEL_FIREWALL_ALLOW_NOTUNNEL_USER=true\n`, [
    `output skuid ${UIDS.notunnel} ip6 daddr ::1 counter accept`,
  ]),
  TUNNEL_FIREWALL_ALLOW_SYSTEMCHECK: ws(`${TUNNEL}TUNNEL_FIREWALL_ALLOW_SYSTEMCHECK=true\n`, [
    `output skuid ${UIDS.systemcheck} ip daddr 10.152.152.10 counter accept`,
  ]),
  TUNNEL_FIREWALL_ALLOW_CONTROL_PORT_FILTER_PROXY: ws(
    `${TUNNEL}TUNNEL_FIREWALL_ALLOW_CONTROL_PORT_FILTER_PROXY=true\n`,
    [
      'output ip daddr 127.0.0.1 tcp dport 9051 counter accept',
      'output ip daddr 10.137.0.8 tcp dport 9051 counter accept',
    ],
  ),
  TUNNEL_FIREWALL_ALLOW_TB_UPDATER: ws(`${TUNNEL}TUNNEL_FIREWALL_ALLOW_TB_UPDATER=true\n`, [
    'output ip daddr 10.137.0.8 tcp dport 9115 counter accept',
  ]),
}

const defaults: Partial<Record<Role, Promise<string>>> = {}
const defaultScript = (role: Role) => (defaults[role] ??= planFor(role).then((plan) => plan.script))

function nftAccepts(script: string): void {
  if (nft.missing || !netns) return
  const result = spawnSync('unshare', ['--net', '--', nft.path ?? 'nft', '--check', '--file', '/dev/stdin'], {
    input: script,
    encoding: 'utf8',
  })
  expect(result.stderr).toBe('')
  expect(result.status).toBe(0)
}

describe('each firewall variable has the effect Whonix gives it', () => {
  it('covers every variable', () => expect(Object.keys(CASES).sort()).toEqual([...VARIABLE_NAMES].sort()))

  it.each(Object.entries(CASES))('%s', async (_name, testCase) => {
    const plan = await planFor(testCase.role, { '50_test.conf': testCase.conf })
    const script = plan.script
    if (testCase.noEffect) expect(script).toBe(await defaultScript(testCase.role))
    else expect(script).not.toBe(await defaultScript(testCase.role))
    for (const line of testCase.present ?? []) expect(script).toContain(line)
    for (const text of testCase.absent ?? []) expect(script).not.toContain(text)
    nftAccepts(script)
  })
})
