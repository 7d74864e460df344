import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'

/**
 * Three network namespaces wired like Qubes-Whonix: "clear" stands for the netvm behind the
 * gateway's eth0; "gw" is the gateway (ProxyVM: a vif per workstation, the empty eth1 with
 * its address, forwarding switched ON so only the firewall stops forwarding); "ws" is a
 * workstation reaching the gateway over vif5.0. Counters in clear see every packet that
 * reaches it. Names carry the pid and a random suffix; `remove` deletes them.
 */
export const CLEAR = { v4: '192.0.2.1', v6: 'fd00:2::1' }
export const GW = { v4: '10.137.0.8', v6: 'fd09:24ef:4179::a89:8', uplink4: '192.0.2.2', uplink6: 'fd00:2::2' }
export const WS = { v4: '10.137.0.20', v6: 'fd09:24ef:4179::a89:14' }

export interface Topology {
  readonly clear: string
  readonly gw: string
  readonly ws: string
  remove(): void
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' })
const inside = (ns: string, ...argv: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...argv], { stdio: 'pipe' })

const COUNT_TABLE = `table inet count {
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    iifname "c0" meta nfproto ipv4 counter
    iifname "c0" meta nfproto ipv6 meta l4proto != ipv6-icmp counter
    iifname "c0" icmpv6 type echo-request counter
  }
}
`

export function createTopology(): Topology {
  const suffix = `${process.pid.toString(36)}${randomBytes(2).toString('hex')}`
  const names = { clear: `qwa-fwc-${suffix}`, gw: `qwa-fwg-${suffix}`, ws: `qwa-fww-${suffix}` }
  const made: string[] = []
  const remove = () => {
    for (const name of made) spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' })
  }
  try {
    for (const name of Object.values(names)) {
      ip('netns', 'add', name)
      made.push(name)
      ip('-n', name, 'link', 'set', 'lo', 'up')
    }
    const { clear, gw, ws } = names
    ip('-n', gw, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'c0', 'netns', clear)
    ip('-n', gw, 'link', 'add', 'vif5.0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ws)
    // The kernel here may lack the dummy driver: an empty bridge holds eth1's address instead.
    ip('-n', gw, 'link', 'add', 'eth1', 'type', 'bridge')
    ip('-n', clear, 'addr', 'add', `${CLEAR.v4}/24`, 'dev', 'c0')
    ip('-n', clear, 'addr', 'add', `${CLEAR.v6}/64`, 'dev', 'c0', 'nodad')
    ip('-n', gw, 'addr', 'add', `${GW.uplink4}/24`, 'dev', 'eth0')
    ip('-n', gw, 'addr', 'add', `${GW.uplink6}/64`, 'dev', 'eth0', 'nodad')
    for (const dev of ['eth1', 'vif5.0']) {
      ip('-n', gw, 'addr', 'add', `${GW.v4}/32`, 'dev', dev)
      ip('-n', gw, '-6', 'addr', 'add', `${GW.v6}/128`, 'dev', dev, 'nodad')
    }
    ip('-n', ws, 'addr', 'add', `${WS.v4}/32`, 'dev', 'eth0')
    ip('-n', ws, '-6', 'addr', 'add', `${WS.v6}/128`, 'dev', 'eth0', 'nodad')
    for (const [ns, dev] of [
      [clear, 'c0'],
      [gw, 'eth0'],
      [gw, 'eth1'],
      [gw, 'vif5.0'],
      [ws, 'eth0'],
    ] as const)
      ip('-n', ns, 'link', 'set', dev, 'up')
    ip('-n', gw, 'route', 'add', 'default', 'via', CLEAR.v4)
    ip('-n', gw, '-6', 'route', 'add', 'default', 'via', CLEAR.v6)
    ip('-n', gw, 'route', 'add', `${WS.v4}/32`, 'dev', 'vif5.0')
    ip('-n', gw, '-6', 'route', 'add', `${WS.v6}/128`, 'dev', 'vif5.0')
    ip('-n', ws, 'route', 'add', `${GW.v4}/32`, 'dev', 'eth0')
    ip('-n', ws, 'route', 'add', 'default', 'via', GW.v4)
    ip('-n', ws, '-6', 'route', 'add', `${GW.v6}/128`, 'dev', 'eth0')
    ip('-n', ws, '-6', 'route', 'add', 'default', 'via', GW.v6)
    // The clear side answers the gateway's uplink addresses only through c0 (the netvm).
    ip('-n', clear, 'route', 'add', '10.137.0.0/16', 'via', GW.uplink4)
    ip('-n', clear, '-6', 'route', 'add', 'fd09:24ef:4179::/48', 'via', GW.uplink6)
    inside(gw, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1')
    execFileSync('ip', ['netns', 'exec', clear, 'nft', '-f', '-'], {
      input: COUNT_TABLE,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
  } catch (error) {
    remove()
    throw error
  }
  return { ...names, remove }
}

/** What reached the clear side: IPv4 packets, IPv6 non-ICMPv6 packets, ICMPv6 echo requests. */
export function clearCounts(topology: Topology): { v4: number; v6: number; ping6: number } {
  const out = inside(topology.clear, 'nft', '-j', 'list', 'table', 'inet', 'count').toString('utf8')
  const rules = (
    JSON.parse(out) as { nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[] }
  ).nftables.flatMap((entry) => (entry.rule ? [entry.rule] : []))
  const packets = rules.map((rule) => rule.expr.find((expr) => expr.counter)?.counter?.packets ?? -1)
  return { v4: packets[0] ?? -1, v6: packets[1] ?? -1, ping6: packets[2] ?? -1 }
}

/** Packets counted by the loaded rules of a namespace whose text contains `fragment`. */
export function ruleCount(ns: string, fragment: string): number {
  const out = inside(ns, 'nft', '-a', 'list', 'ruleset').toString('utf8')
  return out
    .split('\n')
    .filter((line) => line.includes(fragment))
    .reduce((sum, line) => sum + Number(/counter packets (\d+)/.exec(line)?.[1] ?? 0), 0)
}

const CLIENT = `
const [kind, host, port, source] = process.argv.slice(1)
const done = (what) => { process.stdout.write(what); process.exit(0) }
setTimeout(() => done('timeout'), 1500)
if (kind === 'tcp') {
  const socket = require('net').connect({ host, port: Number(port), ...(source ? { localAddress: source } : {}) })
  socket.on('connect', () => { socket.destroy(); done('connected') })
  socket.on('error', (error) => done(error.code))
} else {
  const socket = require('dgram').createSocket(host.includes(':') ? 'udp6' : 'udp4')
  socket.on('message', () => done('reply'))
  socket.on('error', (error) => done(error.code))
  for (let i = 0; i < 3; i++) socket.send('q', Number(port), host)
  setTimeout(() => done('sent'), 400)
}
`

/** A TCP connect or UDP send from a namespace, optionally as another uid; says what happened. */
export function probe(
  ns: string,
  kind: 'tcp' | 'udp',
  host: string,
  port: number,
  options: { uid?: number; source?: string } = {},
): Promise<string> {
  const asUser =
    options.uid === undefined ? [] : ['setpriv', `--reuid=${options.uid}`, `--regid=${options.uid}`, '--clear-groups']
  return new Promise((resolve, reject) => {
    const child = spawn(
      'ip',
      ['netns', 'exec', ns, ...asUser, process.execPath, '-e', CLIENT, kind, host, String(port), options.source ?? ''],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
    child.on('error', reject)
    child.on('close', () => resolve(out))
  })
}

export function ping(ns: string, host: string): boolean {
  return spawnSync('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '1', host], { stdio: 'ignore' }).status === 0
}

/** A TCP listener on port 80 of the clear side (the "internet"). */
export function clearServer(topology: Topology): ChildProcess {
  return spawn(
    'ip',
    [
      'netns',
      'exec',
      topology.clear,
      process.execPath,
      '-e',
      "const s=require('net').createServer((c)=>c.destroy());s.listen({port:80,host:'::'})",
    ],
    { stdio: 'ignore' },
  )
}
