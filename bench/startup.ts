/**
 * `npm run bench -- startup`: whole-process time and peak memory of
 * `qubes-whonix-agent role --json` (on a simulated sys-whonix) against `node -e 0`,
 * interleaved run by run so both see the same machine load.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { shippedManifest } from '../agent/features'
import { buildSimulatedQube } from '../agent/simulate/build'
import { PROFILES } from '../agent/simulate/profiles'
import { median, percentile } from './stats'

const RUNS = Number(process.env.BENCH_RUNS ?? 40)
const AGENT = 'dist/qubes-whonix-agent.mjs'
const GNU_TIME = '/usr/bin/time'

function wallMs(argv: readonly string[]): number {
  const started = process.hrtime.bigint()
  const result = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] })
  if (result.status !== 0) throw new Error(`${argv.join(' ')} exited ${result.status}`)
  return Number(process.hrtime.bigint() - started) / 1e6
}

function peakRssMiB(argv: readonly string[]): number | null {
  if (!existsSync(GNU_TIME)) return null
  const result = spawnSync(GNU_TIME, ['-f', '%M', ...argv], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] })
  const kib = Number(result.stderr.trim().split('\n').at(-1))
  return Number.isFinite(kib) ? kib / 1024 : null
}

const root = await mkdtemp(join(tmpdir(), 'qwa-bench-startup-'))
try {
  await buildSimulatedQube(root, PROFILES.gateway, shippedManifest())
  const baseline = [process.execPath, '-e', '0']
  const ours = [process.execPath, AGENT, '--root', root, 'role', '--json']
  for (let i = 0; i < 3; i++) {
    wallMs(baseline)
    wallMs(ours)
  }
  const times = { baseline: [] as number[], ours: [] as number[] }
  for (let i = 0; i < RUNS; i++) {
    times.baseline.push(wallMs(baseline))
    times.ours.push(wallMs(ours))
  }
  const figures = {
    runs: RUNS,
    node_e0_median_ms: +median(times.baseline).toFixed(1),
    node_e0_p90_ms: +percentile(times.baseline, 90).toFixed(1),
    role_json_median_ms: +median(times.ours).toFixed(1),
    role_json_p90_ms: +percentile(times.ours, 90).toFixed(1),
    ratio_median: +(median(times.ours) / median(times.baseline)).toFixed(2),
    node_e0_peak_rss_mib: peakRssMiB(baseline),
    role_json_peak_rss_mib: peakRssMiB(ours),
  }
  console.log(
    `node -e 0:        median ${figures.node_e0_median_ms} ms, p90 ${figures.node_e0_p90_ms} ms, peak RSS ${figures.node_e0_peak_rss_mib?.toFixed(1)} MiB`,
  )
  console.log(
    `role --json:      median ${figures.role_json_median_ms} ms, p90 ${figures.role_json_p90_ms} ms, peak RSS ${figures.role_json_peak_rss_mib?.toFixed(1)} MiB`,
  )
  console.log(
    JSON.stringify({
      bench: 'startup',
      figures,
      goal: 'role --json median <= 1.5x node -e 0 median',
      met: figures.ratio_median <= 1.5,
    }),
  )
} finally {
  await rm(root, { recursive: true, force: true })
}
