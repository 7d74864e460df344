/**
 * `npm run bench -- updates-forwarder`: a Whonix template's end of the updates proxy, ours
 * against Qubes' way, side by side in the same run. Both hand each connection to the same
 * qrexec-client-vm stand-in (`socat STDIO TCP:` to a local origin standing in for the
 * updates qube), with the connection as its stdin and stdout.
 * Ours: the daemon's updates gate (the real bundle) in a simulated Whonix template whose
 * check has passed. Qubes' way: systemd's Accept=true, as `systemd-socket-activate --accept
 * --inetd` does it (PID 1 also makes a unit per connection, which only adds to its cost).
 * Setup: connect to the answer's first byte of a small request. Throughput: a large download.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { connect, createServer, type Socket } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parse, stringify } from 'yaml'
import { parseManifest } from '../agent/features'
import { buildSimulatedQube } from '../agent/simulate/build'
import { PROFILES } from '../agent/simulate/profiles'
import shippedYaml from '../qubes.yaml?raw'
import { median, percentile, round } from './stats'
import { freePort } from './ports'

const CALLS = Number(process.env.BENCH_CALLS ?? 100)
const DOWNLOADS = Number(process.env.BENCH_DOWNLOADS ?? 7)
const PAYLOAD_MIB = Number(process.env.BENCH_PAYLOAD_MIB ?? 64)
const AGENT = 'dist/qubes-whonix-agent.mjs'

const cleanups: (() => unknown)[] = []

/** The updates qube, reduced to an origin: `GET /small` answers 2 bytes, `GET /big` the payload. */
async function startOrigin(): Promise<number> {
  const payload = Buffer.alloc(PAYLOAD_MIB * 1024 * 1024, 'x')
  const server = createServer((socket) => {
    let head = ''
    socket.on('error', () => undefined)
    socket.setEncoding('latin1').on('data', (text: string) => {
      head += text
      if (!head.includes('\r\n\r\n')) return
      socket.removeAllListeners('data')
      const big = head.startsWith('GET /big ')
      const body = big ? payload : Buffer.from('ok')
      socket.write(`HTTP/1.0 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`)
      socket.end(body)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  cleanups.push(() => server.close())
  return (server.address() as { port: number }).port
}

function spawnLogged(argv: readonly string[], env: NodeJS.ProcessEnv): { child: ChildProcess; log: () => string } {
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env })
  cleanups.push(() => child.kill('SIGKILL'))
  let log = ''
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (log += text))
  return { child, log: () => log }
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.on('connect', () => (socket.end(), resolve(true)))
    socket.on('error', () => resolve(false))
  })

/** A Whonix template whose check has passed, its daemon's gate on a free port, the client stand-in in place. */
async function startOurs(client: string): Promise<number> {
  const root = await mkdtemp(join(tmpdir(), 'qwa-bench-gate-'))
  cleanups.push(() => rm(root, { recursive: true, force: true }))
  const port = await freePort()
  const tree = parse(shippedYaml) as { updatesProxy: { check: { url: string; user: string } } }
  tree.updatesProxy.check.url = `http://127.0.0.1:${port}/`
  tree.updatesProxy.check.user = userInfo().username
  const config = join(root, 'qubes-bench.yaml')
  await writeFile(config, stringify(tree))
  const manifest = await parseManifest(stringify(tree), config)
  await buildSimulatedQube(root, PROFILES['template-gateway'], manifest)
  const dir = join(root, manifest.paths.updatesProxyCheckDir)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, manifest.updatesProxy.markers.secure), '')
  // The very same program Qubes' way runs: a link, no wrapper of its own.
  await symlink(client, join(root, 'usr/bin/qrexec-client-vm'))
  const daemon = spawnLogged([process.execPath, AGENT, '--root', root, '--config', config, 'daemon'], {
    PATH: '/usr/bin:/bin',
  })
  await until('the gate to listen', () => {
    if (daemon.child.exitCode !== null) throw new Error(`daemon exited: ${daemon.log()}`)
    return /updates-gate: .*listening/.test(daemon.log())
  })
  return port
}

/** Qubes' unit: Accept=true, StandardInput=socket, StandardOutput=inherit. */
async function startQubesWay(client: string): Promise<number> {
  const port = await freePort()
  spawnLogged(
    [
      'systemd-socket-activate',
      '-l',
      `127.0.0.1:${port}`,
      '--accept',
      '--inetd',
      client,
      '--use-stdin-socket',
      '',
      'qubes.UpdatesProxy',
    ],
    { PATH: '/usr/bin:/bin' },
  )
  await until('systemd-socket-activate to listen', () => accepts(port))
  return port
}

/** One request: milliseconds to the first byte, to the end, and the bytes. */
function request(port: number, path: string): Promise<{ firstMs: number; totalMs: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    let first = 0
    let bytes = 0
    const socket: Socket = connect({ host: '127.0.0.1', port }, () =>
      socket.write(`GET ${path} HTTP/1.0\r\nHost: origin\r\n\r\n`),
    )
    socket.on('data', (chunk: Buffer) => {
      if (first === 0) first = performance.now()
      bytes += chunk.length
    })
    socket.on('error', reject)
    socket.on('close', () => resolve({ firstMs: first - started, totalMs: performance.now() - started, bytes }))
  })
}

try {
  const origin = await startOrigin()
  const dir = await mkdtemp(join(tmpdir(), 'qwa-bench-client-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  const client = join(dir, 'qrexec-client-vm')
  await writeFile(client, `#!/bin/sh\nexec socat STDIO TCP:127.0.0.1:${origin}\n`)
  await chmod(client, 0o755)
  const arms = { ours: await startOurs(client), qubes: await startQubesWay(client) }
  const setup = { ours: [] as number[], qubes: [] as number[] }
  const throughput = { ours: [] as number[], qubes: [] as number[] }
  // Warm both, then alternate, so a busy moment of the machine hits both alike.
  for (const port of Object.values(arms)) await request(port, '/small')
  for (let index = 0; index < CALLS; index++) {
    for (const arm of index % 2 === 0 ? (['ours', 'qubes'] as const) : (['qubes', 'ours'] as const))
      setup[arm].push((await request(arms[arm], '/small')).firstMs)
  }
  const expected = PAYLOAD_MIB * 1024 * 1024
  for (let index = 0; index < DOWNLOADS; index++) {
    for (const arm of index % 2 === 0 ? (['ours', 'qubes'] as const) : (['qubes', 'ours'] as const)) {
      const result = await request(arms[arm], '/big')
      if (result.bytes < expected) throw new Error(`${arm}: ${result.bytes} bytes of ${expected}`)
      throughput[arm].push(PAYLOAD_MIB / ((result.totalMs - result.firstMs) / 1000))
    }
  }
  const figures = {
    calls: CALLS,
    setup_ours_p50_ms: round(median(setup.ours), 2),
    setup_ours_p95_ms: round(percentile(setup.ours, 95), 2),
    setup_qubes_p50_ms: round(median(setup.qubes), 2),
    setup_qubes_p95_ms: round(percentile(setup.qubes, 95), 2),
    setup_ratio: round(median(setup.ours) / median(setup.qubes), 2),
    downloads: DOWNLOADS,
    payload_mib: PAYLOAD_MIB,
    throughput_ours_mib_s: round(median(throughput.ours), 1),
    throughput_qubes_mib_s: round(median(throughput.qubes), 1),
    throughput_ratio: round(median(throughput.ours) / median(throughput.qubes), 2),
  }
  console.log(
    `connection setup, first byte of a small answer (${CALLS} each): ours p50 ${figures.setup_ours_p50_ms} ms (p95 ${figures.setup_ours_p95_ms}), Qubes' way p50 ${figures.setup_qubes_p50_ms} ms (p95 ${figures.setup_qubes_p95_ms}): ${figures.setup_ratio}x`,
  )
  console.log(
    `throughput, ${PAYLOAD_MIB} MiB (${DOWNLOADS} each): ours ${figures.throughput_ours_mib_s} MiB/s, Qubes' way ${figures.throughput_qubes_mib_s} MiB/s: ${figures.throughput_ratio}x`,
  )
  const met = figures.setup_ratio <= 1.0 && figures.throughput_ratio >= 1.0
  console.log(
    JSON.stringify({
      bench: 'updates-forwarder',
      figures,
      goal: "setup p50 <= 1.0x and throughput >= 1.0x Qubes' way (systemd Accept=true spawning the client per connection)",
      met,
    }),
  )
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup()
}
