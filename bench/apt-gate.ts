/**
 * `npm run bench -- apt-gate`: the apt gate against upstream's 40_qubes.conf, side by side
 * in the same run, both sourced by the same uwt-like wrapper in a simulated Whonix template.
 * 1. Reaction latency: from the marker's creation to the gated command starting, while
 *    the gate waits (ours: inotify; upstream: a check once a second, reproduced in bash).
 *    The floor: the same wrapper woken straight by the benchmark through a FIFO, what any
 *    waiter would pay on this machine at this load.
 * 2. Overhead with the marker already there: the whole wrapper process, drop-in vs upstream.
 */
import { spawn, spawnSync } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { aptGateFiles } from '../agent/apt-gate/files'
import { writeGeneratedFiles } from '../agent/generated/write'
import { shippedManifest } from '../agent/features'
import { rootPaths } from '../agent/paths'
import { buildSimulatedQube } from '../agent/simulate/build'
import { PROFILES } from '../agent/simulate/profiles'
import { median, percentile, round } from './stats'

const TRIALS = Number(process.env.BENCH_TRIALS ?? 25)
const RUNS = Number(process.env.BENCH_RUNS ?? 300)
const AGENT = 'dist/qubes-whonix-agent.mjs'

// Upstream's gate as docs/qubes-facts.md (apt gate) describes it, in bash: the same conditions (with the
// cheapest "path contains apt" test bash has, so the comparison does not flatter ours),
// a look once a second for up to 120 s, the same uwtwrapper entries. One line on stderr
// says it waits, as ours does, so the benchmark knows when to create the marker.
const upstream = (dir: string, template: string) => `
if [ ! "\${torified_check:-}" = "skip" ] && [[ "\${uwtwrapper_parent:-}" == *apt* ]] && command -v qubesdb-read >/dev/null 2>&1 && [ -e ${template} ]; then
  counter=0
  if [ ! -e ${dir}/whonix-secure-proxy ]; then echo "waiting (upstream)" >&2; fi
  while true; do
    if [ -e ${dir}/whonix-secure-proxy ]; then break; fi
    if [ -e ${dir}/whonix-secure-proxy-check-done ]; then
      echo "WARNING: Execution of '$uwtwrapper_parent' prevented by '/etc/uwt.d/40_qubes.conf' because no torified Qubes updates proxy found." >&2
      exit 255
    fi
    counter=$((counter + 1))
    if [ "$counter" -ge 120 ]; then
      echo "WARNING: Execution of '$uwtwrapper_parent' prevented by '/etc/uwt.d/40_qubes.conf' because no torified Qubes updates proxy found." >&2
      exit 255
    fi
    sleep 1
  done
  uwtwrapper["/usr/bin/apt"]="0"
  uwtwrapper["/usr/bin/apt-get"]="0"
  uwtwrapper["/usr/bin/apt-file"]="0"
  uwtwrapper["/usr/bin/aptitude-curses"]="0"
fi
`

// uwt's wrapper in miniature: the array, every drop-in of UWT_DIR sourced, then the
// program. "started" marks the moment the wrapper goes on to the program (a builtin, so
// the figure is the gate's and not the cost of exec, which both sides would pay alike).
const WRAPPER = `#!/bin/bash
declare -A uwtwrapper
uwtwrapper_parent=/usr/bin/apt-get
for conf in "$UWT_DIR"/*.conf; do source "$conf"; done
[ "\${uwtwrapper["/usr/bin/apt-get"]:-}" = 0 ] || exit 3
echo started
exec "$@"
`

type Side = 'ours' | 'upstream'

// Woken by the benchmark itself the moment it creates the marker.
const floor = (fifo: string) => `echo "waiting (floor)" >&2\nread -r _ < ${fifo}\nuwtwrapper["/usr/bin/apt-get"]="0"\n`

function reaction(
  wrapper: string,
  env: NodeJS.ProcessEnv,
  secure: string,
  delayMs: number,
  fifo?: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(wrapper, ['/bin/true'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let created = 0n
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
      if (created === 0n && /waiting/.test(stderr))
        setTimeout(() => {
          created = process.hrtime.bigint()
          writeFileSync(fifo ?? secure, fifo ? 'go\n' : '')
        }, delayMs)
    })
    child.stdout.once('data', () => {
      if (created === 0n) return reject(new Error('started before the marker existed'))
      resolve(Number(process.hrtime.bigint() - created) / 1e6)
    })
    child.on('exit', (code) => code !== 0 && reject(new Error(`wrapper exited ${code}: ${stderr}`)))
  })
}

function wholeProcessMs(wrapper: string, env: NodeJS.ProcessEnv): number {
  const started = process.hrtime.bigint()
  const result = spawnSync(wrapper, ['/bin/true'], { env, stdio: 'ignore' })
  if (result.status !== 0) throw new Error(`wrapper exited ${result.status}`)
  return Number(process.hrtime.bigint() - started) / 1e6
}

const root = await mkdtemp(join(tmpdir(), 'qwa-bench-apt-gate-'))
try {
  const manifest = shippedManifest()
  await buildSimulatedQube(root, PROFILES['template-workstation'], manifest)
  await writeGeneratedFiles(root, aptGateFiles(manifest, { root, agent: [process.execPath, AGENT] }))
  const paths = rootPaths(manifest.paths, root)
  const secure = join(paths.updatesProxyCheckDir, manifest.updatesProxy.markers.secure)
  const upstreamDir = join(root, 'upstream-uwt.d')
  await mkdir(upstreamDir)
  await writeFile(
    join(upstreamDir, '40_qubes.conf'),
    upstream(paths.updatesProxyCheckDir, join(paths.runQubes, manifest.qubes.typeMarkers.template)),
  )
  const wrapper = join(root, 'uwt-wrapper')
  await writeFile(wrapper, WRAPPER)
  await chmod(wrapper, 0o755)
  const base = { ...process.env, PATH: `${join(root, 'usr/bin')}:/usr/bin:/bin` }
  const envOf: Record<Side, NodeJS.ProcessEnv> = {
    ours: { ...base, UWT_DIR: join(root, 'etc/uwt.d') },
    upstream: { ...base, UWT_DIR: upstreamDir },
  }
  const fifo = join(root, 'floor.fifo')
  spawnSync('mkfifo', [fifo])
  const floorDir = join(root, 'floor-uwt.d')
  await mkdir(floorDir)
  await writeFile(join(floorDir, '40_floor.conf'), floor(fifo))

  // 1. Reaction latency, interleaved; the marker comes at a random moment of upstream's second.
  const latency: Record<Side | 'floor', number[]> = { ours: [], upstream: [], floor: [] }
  for (let trial = 0; trial < TRIALS; trial++) {
    const delayMs = 50 + Math.random() * 1000
    for (const side of ['ours', 'upstream'] as const) {
      rmSync(secure, { force: true })
      latency[side].push(await reaction(wrapper, envOf[side], secure, delayMs))
    }
    latency.floor.push(await reaction(wrapper, { ...base, UWT_DIR: floorDir }, secure, 50, fifo))
  }

  // 2. The marker is there: the common case, whole process, interleaved.
  writeFileSync(secure, '')
  const overhead: Record<Side, number[]> = { ours: [], upstream: [] }
  for (let i = 0; i < 10; i++) for (const side of ['ours', 'upstream'] as const) wholeProcessMs(wrapper, envOf[side])
  for (let i = 0; i < RUNS; i++)
    for (const side of ['ours', 'upstream'] as const) overhead[side].push(wholeProcessMs(wrapper, envOf[side]))

  const figures = {
    trials: TRIALS,
    reaction_ours_p50_ms: round(median(latency.ours), 2),
    reaction_ours_p95_ms: round(percentile(latency.ours, 95), 2),
    reaction_upstream_p50_ms: round(median(latency.upstream), 1),
    reaction_upstream_p95_ms: round(percentile(latency.upstream, 95), 1),
    reaction_floor_p50_ms: round(median(latency.floor), 2),
    reaction_floor_p95_ms: round(percentile(latency.floor, 95), 2),
    runs: RUNS,
    marker_present_ours_median_ms: round(median(overhead.ours), 2),
    marker_present_upstream_median_ms: round(median(overhead.upstream), 2),
    marker_present_ours_p90_ms: round(percentile(overhead.ours, 90), 2),
    marker_present_upstream_p90_ms: round(percentile(overhead.upstream, 90), 2),
    marker_present_ratio: round(median(overhead.ours) / median(overhead.upstream), 3),
  }
  console.log(`reaction, marker created -> gated command started (${TRIALS} trials each):`)
  console.log(
    `  ours (inotify):          p50 ${figures.reaction_ours_p50_ms} ms, p95 ${figures.reaction_ours_p95_ms} ms`,
  )
  console.log(
    `  upstream (1 s polling):  p50 ${figures.reaction_upstream_p50_ms} ms, p95 ${figures.reaction_upstream_p95_ms} ms`,
  )
  console.log(
    `  floor (FIFO wake-up):    p50 ${figures.reaction_floor_p50_ms} ms, p95 ${figures.reaction_floor_p95_ms} ms`,
  )
  console.log(`marker present, whole wrapper process (${RUNS} runs each):`)
  console.log(
    `  ours: median ${figures.marker_present_ours_median_ms} ms; upstream: median ${figures.marker_present_upstream_median_ms} ms; ratio ${figures.marker_present_ratio}`,
  )
  const met = figures.reaction_ours_p95_ms <= 10 && figures.marker_present_ratio <= 1.1
  console.log(
    JSON.stringify({
      bench: 'apt-gate',
      figures,
      goal: 'reaction p95 <= 10 ms; marker-present overhead <= 1.1x upstream',
      met,
    }),
  )
} finally {
  await rm(root, { recursive: true, force: true })
}
