import { describe, expect, it } from 'vitest'
import { planFirewall } from '../../../agent/firewall/plan'
import { currentRole } from '../../../agent/role'
import { firewallQube, qubeContext } from './qube'

// Upstream's own dry-run scenarios (outside Qubes, no shipped default drop-ins, the accounts
// its CI creates and no debian-tor): the lines it asserts, and the length of the scripts it
// stored. The agent's scripts have the same lines; the gateway's have two more, the
// anti-spoofing chain and its one rule per internal interface.
const ACCOUNTS = {
  root: 0,
  clearnet: 103,
  tunnel: 104,
  notunnel: 105,
  systemcheck: 106,
  sdwdate: 107,
  updatesproxycheck: 108,
}
const SPOOF_LINES = 2

async function upstreamLike(flavour: 'gateway' | 'workstation', conf: string, mode?: string) {
  const root = await firewallQube(flavour, { dropIns: { '50_test.conf': conf }, accounts: ACCOUNTS })
  const context = await qubeContext(root)
  const role = { ...(await currentRole(context)), qubes: false, providesNetwork: false }
  const plan = await planFirewall(context, role, mode === undefined ? {} : { mode })
  return { script: plan.script, lines: plan.script.trimEnd().split('\n').length }
}

const cases = [
  [
    'gateway-default',
    'gateway',
    'firewall_mode=full\n',
    undefined,
    147 + SPOOF_LINES,
    [
      'add table inet filter',
      'add table inet nat',
      'policy drop',
      'iifname lo counter accept',
      'oifname lo counter accept',
      'ct state established counter accept',
      'counter reject',
      'redirect to :9040',
      'redirect to :5300',
      'tcp dport 9050 counter accept',
      'tcp dport 9150 counter accept',
      'nd-neighbor-solicit',
      'iifname eth1 ip daddr 10.152.152.10 tcp dport 9050 counter redirect to :9050',
      'iifname eth1 ip daddr 10.152.152.10 tcp dport 9152-9229 counter redirect\n',
    ],
    [],
  ],
  [
    'gateway-vpn',
    'gateway',
    'firewall_mode=full\nVPN_FIREWALL=1\n',
    undefined,
    137 + SPOOF_LINES,
    ['oifname tun0 counter accept'],
    [],
  ],
  [
    'gateway-timesync',
    'gateway',
    'firewall_mode=timesync-fail-closed\n',
    undefined,
    95 + SPOOF_LINES,
    ['tcp dport 9050 counter reject'],
    ['tcp dport 9108 counter reject', 'redirect to :9040'],
  ],
  [
    'gateway-no-socks',
    'gateway',
    'firewall_mode=full\nWORKSTATION_ALLOW_SOCKSIFIED=0\n',
    undefined,
    78 + SPOOF_LINES,
    ['oifname lo counter accept', 'redirect to :9040'],
    [],
  ],
  [
    'workstation-default',
    'workstation',
    'firewall_mode=full\n',
    undefined,
    40,
    [
      'add table inet filter',
      'policy drop',
      'oifname lo counter accept',
      'ct state established counter accept',
      'udp dport 53 counter accept',
      'ip protocol != tcp counter reject',
      'counter accept',
      'counter reject',
    ],
    [],
  ],
  [
    'workstation-tunnel',
    'workstation',
    'firewall_mode=full\nTUNNEL_FIREWALL_ENABLE=true\n',
    undefined,
    37,
    ['oifname tun0 counter accept', 'counter reject'],
    [],
  ],
  [
    'workstation-timesync',
    'workstation',
    'firewall_mode=timesync-fail-closed\n',
    undefined,
    95,
    ['tcp dport 9050 counter reject'],
    ['tcp dport 9108 counter reject', 'udp dport 53 counter accept'],
  ],
  [
    'workstation-ip-list',
    'workstation',
    'firewall_mode=full\noutgoing_allow_ip_list="198.51.100.1 203.0.113.5"\n',
    undefined,
    43,
    ['ip daddr 198.51.100.1 counter accept', 'ip daddr 203.0.113.5 counter accept'],
    [],
  ],
  [
    'cli-mode-full',
    'gateway',
    'firewall_mode=timesync-fail-closed\n',
    'full',
    147 + SPOOF_LINES,
    ['redirect to :9040'],
    ['tcp dport 9050 counter reject'],
  ],
  [
    'cli-mode-timesync',
    'gateway',
    'firewall_mode=full\n',
    'timesync-fail-closed',
    95 + SPOOF_LINES,
    ['tcp dport 9050 counter reject'],
    ['redirect to :9040'],
  ],
] as const

describe("upstream's dry-run scenarios", () => {
  it.each(cases)('%s', async (_name, flavour, conf, mode, lines, present, absent) => {
    const generated = await upstreamLike(flavour, conf, mode)
    for (const line of present) expect(generated.script).toContain(line)
    for (const line of absent) expect(generated.script).not.toContain(line)
    expect(generated.lines).toBe(lines)
  })
})
