/**
 * `npm run bench -- updates-proxy`: ours against upstream, side by side in the same run.
 * 1. Detection latency of the template's check: from the updates proxy (a real tinyproxy)
 *    becoming reachable to the marker written. Ours: the agent's check. Upstream: its loop
 *    as docs/qubes-facts.md (updates-proxy check) describes it, reproduced in bash (curl, then a 1 s sleep).
 * 2. qubes.UpdatesProxy on the gateway, both through the qrexec-agent stand-in, to a real
 *    tinyproxy fetching from a local origin. Ours: the daemon's socket service (Tor ready,
 *    per a stand-in control port at 100 %). Upstream: its executable path, a bash service
 *    running `socat STDIO TCP:127.0.0.1:PORT` (without its wait for the tor unit, which
 *    would only add to its cost). Per-call setup: time to the answer's first byte of a
 *    small download. Throughput: a large download, first byte to last.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { watch } from 'node:fs'
import { access, chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { PassThrough } from 'node:stream'
import { parse, stringify } from 'yaml'
import { generatedFiles, parseManifest } from '../agent/features'
import { writeGeneratedFiles } from '../agent/generated/write'
import type { Manifest } from '../agent/manifest/schema'
import { buildSimulatedQube } from '../agent/simulate/build'
import { PROFILES, type ProfileName } from '../agent/simulate/profiles'
import { errorPage } from '../agent/tinyproxy/error-page'
import { createStandInTor } from '../test/agent/tor/stand-in'
import { callThroughAgent } from '../test/stand-ins/qrexec-agent'
import shippedYaml from '../qubes.yaml?raw'
import { median, percentile, round } from './stats'
import { freePort } from './ports'

const TRIALS = Number(process.env.BENCH_TRIALS ?? 12)
const CALLS = Number(process.env.BENCH_CALLS ?? 200)
const DOWNLOADS = Number(process.env.BENCH_DOWNLOADS ?? 7)
const PAYLOAD_MIB = Number(process.env.BENCH_PAYLOAD_MIB ?? 64)
const AGENT = 'dist/qubes-whonix-agent.mjs'
const SECURE = 'whonix-secure-proxy'

const cleanups: (() => unknown)[] = []
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.on('connect', () => (socket.destroy(), resolve(true)))
    socket.on('error', () => resolve(false))
  })

async function qube(
  profile: ProfileName,
  changes: Record<string, unknown>,
): Promise<{ root: string; config: string; manifest: Manifest }> {
  const root = await mkdtemp(join(tmpdir(), `qwa-bench-${profile}-`))
  cleanups.push(() => rm(root, { recursive: true, force: true }))
  const tree = parse(shippedYaml) as Record<string, Record<string, unknown>>
  for (const [key, value] of Object.entries({ 'updatesProxy.check.user': userInfo().username, ...changes })) {
    const keys = key.split('.')
    const last = keys.pop() as string
    let node = tree as Record<string, unknown>
    for (const step of keys) node = node[step] as Record<string, unknown>
    node[last] = value
  }
  const config = join(root, 'qubes-bench.yaml')
  await writeFile(config, stringify(tree))
  const manifest = await parseManifest(stringify(tree), config)
  await buildSimulatedQube(root, PROFILES[profile], manifest)
  return { root, config, manifest }
}

/** A real tinyproxy arranged as on sys-whonix (our error page, its own address refused). */
async function startTinyproxy(dir: string, manifest: Manifest, port: number): Promise<ChildProcess> {
  const page = join(dir, 'error.html')
  await writeFile(page, errorPage(manifest))
  await writeFile(join(dir, 'filter'), '^127\\.0\\.0\\.1$\n')
  const config = join(dir, `tinyproxy-${port}.conf`)
  const lines = [
    `Port ${port}`,
    'Listen 127.0.0.1',
    'Timeout 30',
    `DefaultErrorFile "${page}"`,
    'LogLevel Warning',
    'MaxClients 100',
    'Allow 127.0.0.1',
    `Filter "${join(dir, 'filter')}"`,
    'FilterType ere',
  ]
  await writeFile(config, `${lines.join('\n')}\n`)
  const child = spawn('tinyproxy', ['-d', '-c', config], { stdio: 'ignore' })
  cleanups.push(() => child.kill('SIGKILL'))
  return child
}

// Upstream's check loop (docs/qubes-facts.md) in bash: a GET, the meta line looked for, 1 s between tries.
const upstreamCheck = (url: string, proof: string, dir: string) => `#!/bin/bash
rm -f '${dir}/whonix-secure-proxy-check-done'
while true; do
  if output="$(curl --silent --connect-timeout 10 --max-time 10 '${url}')"; then
    if grep --quiet --fixed-strings -- '${proof}' <<< "$output"; then
      touch '${dir}/${SECURE}' '${dir}/whonix-secure-proxy-check-done'
      exit 0
    fi
    echo "ERROR: ${url} answered without the meta line" >&2
    touch '${dir}/whonix-secure-proxy-check-done'
    exit 1
  fi
  sleep 1
done
`

// A local origin: /big is the payload, anything else 1 KiB; it prints its port.
const ORIGIN = `
const payload = Buffer.alloc(Number(process.argv[1]) * 1024 * 1024, 0x5a)
const small = Buffer.alloc(1024, 0x61)
const server = require('node:http').createServer((request, response) => {
  response.sendDate = false
  const body = request.url === '/big' ? payload : small
  response.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) })
  response.end(body)
}).listen(0, '127.0.0.2', () => process.stdout.write(String(server.address().port)))
`

/** One trial: the checker runs with nothing listening, tinyproxy starts later; ms from reachable to marker. */
async function detection(
  command: readonly string[],
  root: string,
  dir: string,
  manifest: Manifest,
  port: number,
): Promise<number> {
  await rm(join(dir, SECURE), { force: true })
  // Both checkers remove check-done as they begin asking: that says when they are in their loop.
  const done = join(dir, 'whonix-secure-proxy-check-done')
  await writeFile(done, '')
  let markerAt = 0
  const watcher = watch(dir, (_event, name) => {
    if (name === SECURE && markerAt === 0) markerAt = performance.now()
  })
  const checker = spawn(command[0] as string, command.slice(1), { stdio: 'ignore' })
  const exited = once(checker, 'exit')
  while (
    await access(done).then(
      () => true,
      () => false,
    )
  )
    await sleep(5)
  // A random moment of upstream's 1 s rhythm.
  await sleep(200 + Math.random() * 1000)
  let reachableAt = 0
  const polling = (async () => {
    while (reachableAt === 0) {
      if (await accepts(port)) reachableAt = performance.now()
      else await sleep(1)
    }
  })()
  const proxy = await startTinyproxy(root, manifest, port)
  await polling
  await exited
  watcher.close()
  proxy.kill('SIGKILL')
  await once(proxy, 'exit')
  if (markerAt === 0) throw new Error(`${command.join(' ')}: no marker`)
  return markerAt - reachableAt
}

interface Timing {
  readonly firstByteMs: number
  readonly lastByteMs: number
  readonly bytes: number
}

type Side = 'ours' | 'upstream' | 'qubesTcp'
const SIDES: readonly Side[] = ['ours', 'upstream', 'qubesTcp']

/**
 * Ours: the daemon serving the gateway's sockets. Upstream: its executable, bash exec'ing
 * socat. Beside them, Qubes' own kind of TCP service (a /dev/tcp link: the stand-in connects
 * to the address itself, no process in the middle), what plain Qubes does without Whonix.
 */
async function bothServices(
  gateway: { root: string; config: string; manifest: Manifest },
  host: string,
  port: number,
): Promise<Record<Side, string[]>> {
  await writeGeneratedFiles(
    gateway.root,
    (await generatedFiles(gateway.manifest)).filter((file) => file.path.startsWith('/etc/qubes/rpc-config/')),
  )
  const daemon = spawn(process.execPath, [AGENT, '--root', gateway.root, '--config', gateway.config, 'daemon'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  cleanups.push(() => daemon.kill('SIGKILL'))
  let log = ''
  daemon.stderr?.setEncoding('utf8').on('data', (text: string) => (log += text))
  while (!/<6>serving /.test(log)) {
    if (daemon.exitCode !== null) throw new Error(`daemon exited: ${log}`)
    await sleep(20)
  }
  const upstreamDir = join(gateway.root, 'upstream-qubes-rpc')
  await mkdir(upstreamDir)
  await writeFile(join(upstreamDir, 'qubes.UpdatesProxy'), `#!/bin/bash\nexec socat STDIO TCP:${host}:${port}\n`)
  await chmod(join(upstreamDir, 'qubes.UpdatesProxy'), 0o755)
  const tcpDir = join(gateway.root, 'qubes-tcp-rpc')
  await mkdir(tcpDir)
  await symlink(`/dev/tcp/${host}/${port}`, join(tcpDir, 'qubes.UpdatesProxy'))
  return { ours: [join(gateway.root, 'run/qubes-rpc')], upstream: [upstreamDir], qubesTcp: [tcpDir] }
}

/**
 * One call through the stand-in, the caller behaving as a template's apt does: the request
 * in, stdin kept open until the whole answer (Content-Length) has arrived, then closed.
 */
async function timedCall(
  serviceDirs: readonly string[],
  rpcConfigDirs: readonly string[],
  request: string,
): Promise<Timing> {
  const input = new PassThrough()
  input.write(request)
  const started = performance.now()
  let firstByteMs = 0
  let lastByteMs = 0
  let received = 0
  let expected = Number.POSITIVE_INFINITY
  let head = ''
  const result = await callThroughAgent(
    { serviceDirs, rpcConfigDirs },
    {
      service: 'qubes.UpdatesProxy',
      source: 'whonix-workstation-18',
      input,
      maxOutputBytes: (PAYLOAD_MIB + 1) * 1024 * 1024,
      timeoutMs: 120_000,
      onOutput(chunk) {
        if (firstByteMs === 0) firstByteMs = performance.now() - started
        received += chunk.length
        if (expected === Number.POSITIVE_INFINITY) {
          head += chunk.toString('latin1', 0, Math.min(chunk.length, 4096))
          const end = head.indexOf('\r\n\r\n')
          const length = /\r\ncontent-length: *(\d+)/i.exec(head)
          if (end !== -1 && length) expected = end + 4 + Number(length[1])
        }
        if (received >= expected && lastByteMs === 0) {
          lastByteMs = performance.now() - started
          input.end()
        }
      },
    },
  )
  if (result.exitCode !== 0 || lastByteMs === 0)
    throw new Error(
      `call failed: exit ${result.exitCode}, ${received} of ${expected} bytes: ${result.stdout.subarray(0, 200).toString()}`,
    )
  return { firstByteMs, lastByteMs, bytes: received }
}

try {
  // 1. Detection latency.
  const port = await freePort()
  const template = await qube('template-workstation', {
    'updatesProxy.check.url': `http://127.0.0.1:${port}/`,
    'updatesProxy.check.timeoutSec': 60,
  })
  const markerDir = join(template.root, 'run/updatesproxycheck')
  const upstreamScript = join(template.root, 'upstream-check')
  await writeFile(
    upstreamScript,
    upstreamCheck(`http://127.0.0.1:${port}/`, template.manifest.updatesProxy.check.proofLine, markerDir),
  )
  await chmod(upstreamScript, 0o755)
  const checkers = {
    ours: [
      process.execPath,
      AGENT,
      '--root',
      template.root,
      '--config',
      template.config,
      'updates-proxy',
      'check',
      '--recheck',
    ],
    upstream: ['/bin/bash', upstreamScript],
  }
  const latency = { ours: [] as number[], upstream: [] as number[] }
  for (let trial = 0; trial < TRIALS; trial++)
    for (const side of ['ours', 'upstream'] as const)
      latency[side].push(await detection(checkers[side], template.root, markerDir, template.manifest, port))

  // 2. qubes.UpdatesProxy: our socket service vs upstream's executable, both through the stand-in.
  // The origin is a process of its own, so that serving does not compete with the caller's side.
  const origin = spawn(process.execPath, ['-e', ORIGIN, String(PAYLOAD_MIB)], { stdio: ['ignore', 'pipe', 'inherit'] })
  cleanups.push(() => origin.kill('SIGKILL'))
  const [originPort] = (await once(origin.stdout as NodeJS.ReadableStream, 'data')) as [Buffer]
  const originUrl = `http://127.0.0.2:${Number(originPort.toString())}`
  const standIn = await createStandInTor(100)
  cleanups.push(standIn.close)

  // Behind the service: (a) a real tinyproxy, as on sys-whonix; (b) the origin itself at the
  // proxy's place, so that the bridge, not tinyproxy, bounds the figures.
  const tinyproxyPort = await freePort()
  const arrangements = {
    tinyproxy: {
      host: '127.0.0.1',
      port: tinyproxyPort,
      small: `GET ${originUrl}/small HTTP/1.0\r\nHost: 127.0.0.2\r\n\r\n`,
      big: `GET ${originUrl}/big HTTP/1.0\r\nHost: 127.0.0.2\r\n\r\n`,
    },
    direct: {
      host: '127.0.0.2',
      port: Number(originPort.toString()),
      small: 'GET /small HTTP/1.0\r\n\r\n',
      big: 'GET /big HTTP/1.0\r\n\r\n',
    },
  }
  const results: Record<string, { setup: Record<Side, number[]>; throughput: Record<Side, number[]> }> = {}
  for (const [name, behind] of Object.entries(arrangements)) {
    const gateway = await qube('gateway', {
      'updatesProxy.gateway.proxy': { host: behind.host, port: behind.port },
      'tor.control': `127.0.0.1:${standIn.port}`,
    })
    if (name === 'tinyproxy') await startTinyproxy(gateway.root, gateway.manifest, tinyproxyPort)
    const services = await bothServices(gateway, behind.host, behind.port)
    const rpcConfig = [join(gateway.root, 'etc/qubes/rpc-config')]
    const result = {
      setup: { ours: [] as number[], upstream: [] as number[], qubesTcp: [] as number[] },
      throughput: { ours: [] as number[], upstream: [] as number[], qubesTcp: [] as number[] },
    }
    for (let i = 0; i < 10; i++) for (const side of SIDES) await timedCall(services[side], rpcConfig, behind.small)
    for (let i = 0; i < CALLS; i++)
      for (const side of SIDES)
        result.setup[side].push((await timedCall(services[side], rpcConfig, behind.small)).firstByteMs)
    // Warm-up: a fresh origin and fresh connections start slowly, whichever side goes first.
    for (let i = 0; i < 2; i++) for (const side of SIDES) await timedCall(services[side], rpcConfig, behind.big)
    for (let i = 0; i < DOWNLOADS; i++)
      for (const side of SIDES) {
        const timing = await timedCall(services[side], rpcConfig, behind.big)
        result.throughput[side].push(timing.bytes / (1024 * 1024) / ((timing.lastByteMs - timing.firstByteMs) / 1000))
      }
    results[name] = result
  }
  const tiny = results.tinyproxy as (typeof results)[string]
  const direct = results.direct as (typeof results)[string]

  const figures = {
    trials: TRIALS,
    detection_ours_p50_ms: round(median(latency.ours), 1),
    detection_ours_p95_ms: round(percentile(latency.ours, 95), 1),
    detection_upstream_p50_ms: round(median(latency.upstream), 1),
    detection_upstream_p95_ms: round(percentile(latency.upstream, 95), 1),
    calls: CALLS,
    setup_ours_p50_ms: round(median(direct.setup.ours), 3),
    setup_upstream_p50_ms: round(median(direct.setup.upstream), 3),
    setup_speedup: round(median(direct.setup.upstream) / median(direct.setup.ours), 1),
    setup_qubes_tcp_p50_ms: round(median(direct.setup.qubesTcp), 3),
    setup_via_tinyproxy_ours_p50_ms: round(median(tiny.setup.ours), 3),
    setup_via_tinyproxy_upstream_p50_ms: round(median(tiny.setup.upstream), 3),
    downloads: DOWNLOADS,
    payload_mib: PAYLOAD_MIB,
    throughput_ours_mib_s: round(median(direct.throughput.ours), 1),
    throughput_upstream_mib_s: round(median(direct.throughput.upstream), 1),
    throughput_ratio: round(median(direct.throughput.ours) / median(direct.throughput.upstream), 2),
    throughput_qubes_tcp_mib_s: round(median(direct.throughput.qubesTcp), 1),
    throughput_via_tinyproxy_ours_mib_s: round(median(tiny.throughput.ours), 1),
    throughput_via_tinyproxy_upstream_mib_s: round(median(tiny.throughput.upstream), 1),
  }
  console.log(`detection, tinyproxy reachable -> marker written (${TRIALS} trials each):`)
  console.log(
    `  ours (20 ms poll while refused):  p50 ${figures.detection_ours_p50_ms} ms, p95 ${figures.detection_ours_p95_ms} ms`,
  )
  console.log(
    `  upstream (curl, sleep 1):         p50 ${figures.detection_upstream_p50_ms} ms, p95 ${figures.detection_upstream_p95_ms} ms`,
  )
  console.log('qubes.UpdatesProxy through the qrexec-agent stand-in (ours: socket service; upstream: bash + socat):')
  console.log(
    `  setup, first byte of 1 KiB (${CALLS} calls each): ours ${figures.setup_ours_p50_ms} ms, upstream ${figures.setup_upstream_p50_ms} ms (${figures.setup_speedup}x); Qubes' TCP service ${figures.setup_qubes_tcp_p50_ms} ms`,
  )
  console.log(
    `    via tinyproxy:                 ours ${figures.setup_via_tinyproxy_ours_p50_ms} ms, upstream ${figures.setup_via_tinyproxy_upstream_p50_ms} ms`,
  )
  console.log(
    `  throughput, ${PAYLOAD_MIB} MiB (${DOWNLOADS} each): ours ${figures.throughput_ours_mib_s} MiB/s, upstream ${figures.throughput_upstream_mib_s} MiB/s (${figures.throughput_ratio}x); Qubes' TCP service ${figures.throughput_qubes_tcp_mib_s} MiB/s`,
  )
  console.log(
    `    via tinyproxy:                 ours ${figures.throughput_via_tinyproxy_ours_mib_s} MiB/s, upstream ${figures.throughput_via_tinyproxy_upstream_mib_s} MiB/s`,
  )
  const met = figures.detection_ours_p50_ms <= 100 && figures.setup_speedup >= 10 && figures.throughput_ratio >= 1.5
  console.log(
    JSON.stringify({
      bench: 'updates-proxy',
      figures,
      goal: 'detection p50 <= 100 ms; setup >= 10x faster; throughput >= 1.5x (service against the origin at the proxy port; via tinyproxy reported beside)',
      met,
    }),
  )
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup()
}
