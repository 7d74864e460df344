/**
 * `npm run bench -- firewall`, as root (network namespaces):
 * 1. generating and loading the gateway's ruleset (Qubes ProxyVM, shipped defaults): ours
 *    (in-process generation, drop-ins read by one bash child, one `nft --file`) against the
 *    upstream way, a bash program that writes the script line by line through a writer
 *    function, resolves the accounts with `id -u`, then runs `nft --check --file` and
 *    `nft --file`; upstream's legacy rule-by-rule `nft` is shown for reference;
 * 2. what a workstation gets through the gateway's TransPort redirect with our ruleset,
 *    against the same path with no firewall at all (bulk bytes/s and connections/s).
 * Runs are interleaved so both sides see the same machine load.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createContext } from '../agent/context'
import { loadFile } from '../agent/firewall/nft'
import { planFirewall } from '../agent/firewall/plan'
import { firewallRunner } from '../agent/firewall/runner'
import { shippedManifest } from '../agent/features'
import { currentRole } from '../agent/role'
import { buildSimulatedQube } from '../agent/simulate/build'
import { PROFILES } from '../agent/simulate/profiles'
import { CLEAR, GW, createTopology } from '../test/agent/firewall/topology'
import { median } from './stats'

const RUNS = Number(process.env.BENCH_RUNS ?? 15)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1.5)
const manifest = shippedManifest()
const ACCOUNTS = [
  'clearnet',
  'notunnel',
  'root',
  'sdwdate',
  'systemcheck',
  'debian-tor',
  'tunnel',
  'updatesproxycheck',
  'user',
]

const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6
const inside = (ns: string, argv: string[], input?: string) => {
  const result = spawnSync('ip', ['netns', 'exec', ns, ...argv], { input, encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`${argv.join(' ')}: ${result.stderr}`)
}

/** A bash program in upstream's shape that writes `lines` to `file` and loads it. */
function upstreamProgram(lines: readonly string[], file: string): string {
  const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`
  return [
    'set -o errexit -o nounset -o pipefail',
    `file=${quote(file)}`,
    'rm -f -- "$file"',
    'nft_add() { printf "%s\\n" "$*" >> "$file"; }',
    ...ACCOUNTS.map((name) => `u_${name.replace('-', '_')}=$(id -u ${name} 2>/dev/null || true)`),
    ...lines.map((line) => `nft_add ${quote(line)}`),
    'nft --check --file "$file"',
    'nft --file "$file"',
  ].join('\n')
}

/** Runs inside the bench's network namespace (this script re-run under `ip netns exec`). */
async function loadFigures(work: string) {
  const root = join(work, 'root')
  await mkdir(root)
  await buildSimulatedQube(root, PROFILES.gateway, manifest)
  await mkdir(join(root, 'etc'), { recursive: true })
  await writeFile(
    join(root, 'etc/passwd'),
    `${ACCOUNTS.map((name, index) => `${name}:x:${name === 'root' ? 0 : 4100 + index}:100::/:/bin/false`).join('\n')}\n`,
  )
  const dropIns = join(root, manifest.firewall.dropInDirs[0] ?? '/etc/whonix_firewall.d')
  await mkdir(dropIns, { recursive: true })
  await chmod(dropIns, 0o755)
  await writeFile(
    join(dropIns, '30_whonix_gateway_default.conf'),
    'GATEWAY_ALLOW_INCOMING_RELATED_STATE=0\nWORKSTATION_TRANSPARENT_TCP=1\nWORKSTATION_TRANSPARENT_DNS=1\nWORKSTATION_ALLOW_SOCKSIFIED=1\nCONTROL_PORT_FILTER_PROXY_ENABLE=1\nGATEWAY_ALLOW_INCOMING_ICMP_FRAG_NEEDED=1\nfirewall_mode=full\n',
  )
  const context = await createContext({ root, manifest })
  const role = await currentRole(context)
  const scriptFile = join(work, 'ours.nft')
  const plan = await planFirewall(context, role)
  const upstreamFile = join(work, 'upstream.sh')
  await writeFile(
    upstreamFile,
    upstreamProgram(plan.script.split('\n').slice(1).filter(Boolean), join(work, 'upstream.nft')),
  )
  const run = firewallRunner(context)
  const ours = async () => {
    const start = process.hrtime.bigint()
    const fresh = await planFirewall(context, role)
    await writeFile(scriptFile, fresh.script)
    const result = await run(loadFile(manifest.firewall, scriptFile))
    if (result.exitCode !== 0) throw new Error(result.stderr)
    return ms(start)
  }
  const generate = async () => {
    const start = process.hrtime.bigint()
    await planFirewall(context, role)
    return ms(start)
  }
  const upstream = () => {
    const start = process.hrtime.bigint()
    if (spawnSync('bash', [upstreamFile]).status !== 0) throw new Error('the upstream-way script failed')
    return ms(start)
  }
  const ruleByRule = () => {
    const start = process.hrtime.bigint()
    for (const line of plan.script.split('\n').slice(1).filter(Boolean)) spawnSync('nft', [line])
    return ms(start)
  }
  await ours()
  upstream()
  const times = { ours: [] as number[], upstream: [] as number[], generate: [] as number[] }
  for (let run = 0; run < RUNS; run++) {
    times.generate.push(await generate())
    times.ours.push(await ours())
    times.upstream.push(upstream())
  }
  const byRule = [ruleByRule(), ruleByRule(), ruleByRule()]
  return {
    lines: plan.script.split('\n').length - 2,
    generate: median(times.generate),
    ours: median(times.ours),
    upstream: median(times.upstream),
    ruleByRule: median(byRule),
  }
}

const CLIENT = `
const [mode, host, port, seconds] = process.argv.slice(1)
const net = require('net'); const end = performance.now() + Number(seconds) * 1000
if (mode === 'bulk') {
  const chunk = Buffer.alloc(256 * 1024); let sent = 0
  const socket = net.connect(Number(port), host, () => {
    const pump = () => { while (performance.now() < end) { sent += chunk.length; if (!socket.write(chunk)) return socket.once('drain', pump) } socket.end() }
    pump()
  })
  const start = performance.now()
  socket.on('data', () => {}); socket.on('close', () => process.stdout.write(String(sent / ((performance.now() - start) / 1000))))
} else {
  let count = 0; const start = performance.now()
  const next = () => { if (performance.now() >= end) return process.stdout.write(String(count / ((performance.now() - start) / 1000)))
    const socket = net.connect(Number(port), host, () => { count++; socket.destroy(); next() }); socket.on('error', () => next()) }
  next()
}
`

function client(ns: string, mode: 'bulk' | 'connect', host: string, port: number): number {
  const result = spawnSync(
    'ip',
    ['netns', 'exec', ns, process.execPath, '-e', CLIENT, mode, host, String(port), String(SECONDS)],
    { encoding: 'utf8' },
  )
  return Number(result.stdout)
}

/** Packets the gateway received from the workstation during a bulk run, per second. */
function bulkPackets(
  topology: { gw: string; ws: string },
  host: string,
  port: number,
): { bytes: number; packets: number } {
  const received = () =>
    Number(
      execFileSync('ip', ['netns', 'exec', topology.gw, 'cat', '/sys/class/net/vif5.0/statistics/rx_packets'], {
        encoding: 'utf8',
      }),
    )
  const before = received()
  const start = process.hrtime.bigint()
  const bytes = client(topology.ws, 'bulk', host, port)
  return { bytes, packets: (received() - before) / (ms(start) / 1000) }
}

async function throughputFigures(ruleset: string) {
  const topology = createTopology()
  const sink = spawn(
    'ip',
    [
      'netns',
      'exec',
      topology.gw,
      process.execPath,
      '-e',
      `require('net').createServer((s)=>{s.on('data',()=>{});s.on('end',()=>s.end());s.on('error',()=>{})}).listen(9040,'${GW.v4}')`,
    ],
    { stdio: 'ignore' },
  )
  try {
    await new Promise((resolve) => setTimeout(resolve, 500))
    const times = {
      bulkNone: [] as number[],
      bulkOurs: [] as number[],
      ppsNone: [] as number[],
      ppsOurs: [] as number[],
      connNone: [] as number[],
      connOurs: [] as number[],
    }
    for (let run = 0; run < Math.max(3, Math.round(RUNS / 3)); run++) {
      inside(topology.gw, ['nft', 'flush', 'ruleset'])
      const none = bulkPackets(topology, GW.v4, 9040)
      times.bulkNone.push(none.bytes)
      times.ppsNone.push(none.packets)
      times.connNone.push(client(topology.ws, 'connect', GW.v4, 9040))
      inside(topology.gw, ['nft', '--file', '/dev/stdin'], ruleset)
      // Any address: the redirect takes it to the gateway's TransPort.
      const ours = bulkPackets(topology, CLEAR.v4, 80)
      times.bulkOurs.push(ours.bytes)
      times.ppsOurs.push(ours.packets)
      times.connOurs.push(client(topology.ws, 'connect', CLEAR.v4, 80))
    }
    return {
      bulkNone: median(times.bulkNone),
      bulkOurs: median(times.bulkOurs),
      ppsNone: median(times.ppsNone),
      ppsOurs: median(times.ppsOurs),
      connNone: median(times.connNone),
      connOurs: median(times.connOurs),
    }
  } finally {
    sink.kill('SIGKILL')
    topology.remove()
  }
}

if (process.argv[2] === '--inside') {
  process.stdout.write(JSON.stringify(await loadFigures(process.argv[3] ?? '')))
  process.exit(0)
}

const work = await mkdtemp(join(tmpdir(), 'qwa-bench-firewall-'))
const ns = `qwa-bench-fw-${process.pid}`
try {
  execFileSync('ip', ['netns', 'add', ns])
  const inner = spawnSync('ip', ['netns', 'exec', ns, process.execPath, process.argv[1] ?? '', '--inside', work], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const load = JSON.parse(inner.stdout) as {
    lines: number
    generate: number
    ours: number
    upstream: number
    ruleByRule: number
  }
  const ruleset = readFileSync(join(work, 'ours.nft'), 'utf8')
  const flow = await throughputFigures(ruleset)
  const figures = {
    runs: RUNS,
    ruleset_lines: load.lines,
    ours_generate_median_ms: +load.generate.toFixed(1),
    ours_generate_and_load_median_ms: +load.ours.toFixed(1),
    upstream_script_build_check_load_median_ms: +load.upstream.toFixed(1),
    upstream_rule_by_rule_median_ms: +load.ruleByRule.toFixed(0),
    load_speedup_vs_upstream_script: +(load.upstream / load.ours).toFixed(2),
    redirect_bulk_mib_s: +(flow.bulkOurs / 2 ** 20).toFixed(0),
    no_firewall_bulk_mib_s: +(flow.bulkNone / 2 ** 20).toFixed(0),
    redirect_bulk_ratio: +(flow.bulkOurs / flow.bulkNone).toFixed(2),
    redirect_packets_per_s: +flow.ppsOurs.toFixed(0),
    no_firewall_packets_per_s: +flow.ppsNone.toFixed(0),
    redirect_packets_ratio: +(flow.ppsOurs / flow.ppsNone).toFixed(2),
    redirect_connections_per_s: +flow.connOurs.toFixed(0),
    no_firewall_connections_per_s: +flow.connNone.toFixed(0),
    redirect_connections_ratio: +(flow.connOurs / flow.connNone).toFixed(2),
  }
  console.log(
    `load the gateway ruleset (${load.lines} lines): ours ${figures.ours_generate_and_load_median_ms} ms, upstream's script way ${figures.upstream_script_build_check_load_median_ms} ms, rule by rule ${figures.upstream_rule_by_rule_median_ms} ms`,
  )
  console.log(
    `through the TransPort redirect: ${figures.redirect_bulk_mib_s} MiB/s vs ${figures.no_firewall_bulk_mib_s} MiB/s without firewall; ${figures.redirect_packets_per_s} vs ${figures.no_firewall_packets_per_s} packets/s; ${figures.redirect_connections_per_s} vs ${figures.no_firewall_connections_per_s} connections/s`,
  )
  const met = figures.load_speedup_vs_upstream_script >= 5 && figures.redirect_packets_ratio >= 0.9
  console.log(
    JSON.stringify({
      bench: 'firewall',
      figures,
      goal: 'load >= 5x faster than upstream script way; packets/s through the redirect >= 0.9x no firewall',
      met,
    }),
  )
} finally {
  spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
  await rm(work, { recursive: true, force: true })
}
