/**
 * `npm run bench -- tor-control`: from the call to Tor reporting the new DisableNetwork
 * (GETCONF), ours against the control panel's way, side by side in one run, on a real tor
 * kept off the network (every connection goes to a SOCKS proxy on 127.0.0.1:1).
 * - ours: applyTorAction (tor --verify-config over the whole configuration, atomic write,
 *   SIGNAL RELOAD, GETCONF until it shows); it returns once its own GETCONF showed the new
 *   value, and a fresh connection outside the timed part must see it on its first GETCONF.
 * - restart (what the control panel does: systemctl restart tor@default): write the file,
 *   stop tor (the unit's KillSignal, SIGINT), run the unit's ExecStartPre lines (install -d,
 *   then tor --verify-config), start tor, wait for its log line saying the control socket
 *   listens, then GETCONF (again every millisecond) until it shows the new value. No systemd here: the unit's commands are run
 *   directly, which leaves systemd's own cost out of the baseline.
 * - reload: write, tor --verify-config (Tor exits on a bad configuration at SIGHUP), SIGHUP,
 *   poll GETCONF until it shows.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { createContext, type AgentContext } from '../agent/context'
import { shippedManifest } from '../agent/features'
import { buildSimulatedQube } from '../agent/simulate/build'
import { PROFILES } from '../agent/simulate/profiles'
import { openTorControl } from '../agent/tor/client'
import { torControlSettings } from '../agent/tor/settings'
import { applyTorAction } from '../agent/tor-settings/apply'
import { readTorView } from '../agent/tor-settings/reload'
import { writeGatewayTorFiles } from '../test/helpers/tor-layout'
import { median, percentile, round } from './stats'

const TRIALS = Number(process.env.BENCH_TRIALS ?? 10)
const torProgram = spawnSync('sh', ['-c', 'command -v tor || echo /usr/sbin/tor'], { encoding: 'utf8' }).stdout.trim()

interface Setup {
  readonly root: string
  readonly context: AgentContext
  readonly torArgs: readonly string[]
  readonly file: string
}

async function setUp(): Promise<Setup> {
  const root = await mkdtemp(join(tmpdir(), 'qwa-bench-tor-'))
  const shipped = shippedManifest()
  const manifest = {
    ...shipped,
    tor: { ...shipped.tor, control: 'unix:/run/tor/control', timeoutMs: 10_000 },
    torSettings: { ...shipped.torSettings, torProgram },
  }
  await buildSimulatedQube(root, PROFILES.gateway, manifest)
  const under = (path: string) => join(root, path)
  await writeGatewayTorFiles(root, '')
  const context = await createContext({ root, manifest, env: { PATH: '/usr/bin:/bin' } })
  const torArgs = [
    '--defaults-torrc',
    under('/usr/share/tor/tor-service-defaults-torrc'),
    '-f',
    under('/etc/tor/torrc'),
    '--RunAsDaemon',
    '0',
  ]
  return { root, context, torArgs, file: under('/usr/local/etc/torrc.d/40_tor_control_panel.conf') }
}

function startTor(setup: Setup): ChildProcess {
  return spawn(torProgram, setup.torArgs, { stdio: ['ignore', 'pipe', 'ignore'] })
}

/** Resolves when Tor logs that its control socket listens (as systemd waits for Tor's READY=1): no polling until then. */
function controlListening(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = ''
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      seen = (seen + chunk).slice(-4096)
      if (/Opened Control listener/.test(seen)) resolve()
    })
    child.once('exit', () => reject(new Error(`tor exited before opening its control socket: ${seen}`)))
  })
}

async function stopTor(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGINT')
  await once(child, 'exit')
}

/** Polls until Tor's control socket answers GETCONF with this DisableNetwork. */
async function untilTorReports(setup: Setup, disableNetwork: boolean): Promise<void> {
  for (;;) {
    const control = await openTorControl(torControlSettings(setup.context)).catch(() => null)
    if (control) {
      try {
        if ((await readTorView(control)).disableNetwork === disableNetwork) return
      } catch {
        // Tor went away between connect and reply: ask again.
      } finally {
        control.connection.close()
      }
    }
    await sleep(1)
  }
}

/** Fails unless the very first GETCONF of a new connection shows this DisableNetwork. */
async function torReportsNow(setup: Setup, disableNetwork: boolean): Promise<void> {
  const control = await openTorControl(torControlSettings(setup.context))
  try {
    if ((await readTorView(control)).disableNetwork !== disableNetwork)
      throw new Error('ours returned before Tor reported the new DisableNetwork')
  } finally {
    control.connection.close()
  }
}

const panelFile = (enabled: boolean) =>
  `# Do not edit this file!\n# Please add modifications to the following file instead:\n# /usr/local/etc/torrc.d/50_user.conf\nDisableNetwork ${enabled ? 0 : 1}\n`
const verifyConfig = (setup: Setup) => spawnSync(torProgram, ['--verify-config', ...setup.torArgs], { stdio: 'ignore' })
// The unit's first ExecStartPre (its run directory), on a directory of its own here: our tor runs as root and keeps /run/tor 0700.
const makeRunDirectory = (setup: Setup) =>
  spawnSync('install', ['-m', '02755', '-d', join(setup.root, 'run/tor-unit')], { stdio: 'ignore' })

async function timed(action: () => Promise<void>): Promise<number> {
  const started = performance.now()
  await action()
  return performance.now() - started
}

async function main(): Promise<void> {
  const setup = await setUp()
  let tor = startTor(setup)
  try {
    await untilTorReports(setup, true)
    const ours: number[] = []
    const restart: number[] = []
    const reload: number[] = []
    for (let trial = 0; trial < TRIALS; trial++) {
      const enabled = trial % 2 === 0
      ours.push(
        await timed(async () => {
          const result = await applyTorAction(setup.context, { kind: enabled ? 'enable' : 'disable' })
          if (!result.reloaded) throw new Error(`ours did not reload Tor: ${result.note ?? ''}`)
        }),
      )
      await torReportsNow(setup, !enabled)
      // Back to the state before, for the others to make the same change.
      await applyTorAction(setup.context, { kind: enabled ? 'disable' : 'enable' })
      restart.push(
        await timed(async () => {
          await writeFile(setup.file, panelFile(enabled))
          await stopTor(tor)
          makeRunDirectory(setup)
          verifyConfig(setup)
          tor = startTor(setup)
          await controlListening(tor)
          await untilTorReports(setup, !enabled)
        }),
      )
      await writeFile(setup.file, panelFile(!enabled))
      verifyConfig(setup)
      tor.kill('SIGHUP')
      await untilTorReports(setup, enabled)
      reload.push(
        await timed(async () => {
          await writeFile(setup.file, panelFile(enabled))
          verifyConfig(setup)
          tor.kill('SIGHUP')
          await untilTorReports(setup, !enabled)
        }),
      )
      await rm(setup.file, { force: true })
      verifyConfig(setup)
      tor.kill('SIGHUP')
      await untilTorReports(setup, true)
      await stat(setup.root)
    }
    const figures = {
      trials: TRIALS,
      oursMedianMs: round(median(ours)),
      oursP90Ms: round(percentile(ours, 90)),
      restartMedianMs: round(median(restart)),
      restartP90Ms: round(percentile(restart, 90)),
      reloadMedianMs: round(median(reload)),
      reloadP90Ms: round(percentile(reload, 90)),
      oursOverRestart: round(median(ours) / median(restart), 3),
      oursOverReload: round(median(ours) / median(reload), 3),
    }
    console.log(
      `ours (verify-config over the rewritten chain, atomic write, SIGNAL RELOAD, GETCONF): median ${figures.oursMedianMs} ms, p90 ${figures.oursP90Ms} ms`,
    )
    console.log(
      `control panel's way, restart (write, stop, install -d, verify-config, start, until GETCONF): median ${figures.restartMedianMs} ms, p90 ${figures.restartP90Ms} ms`,
    )
    console.log(
      `reload (write, verify-config, SIGHUP, until GETCONF): median ${figures.reloadMedianMs} ms, p90 ${figures.reloadP90Ms} ms`,
    )
    console.log(
      JSON.stringify({
        bench: 'tor-control',
        figures,
        goal: 'ours <= 0.5x the control panel way (write then restart tor)',
        met: figures.oursOverRestart <= 0.5,
      }),
    )
  } finally {
    await stopTor(tor)
    await rm(setup.root, { recursive: true, force: true })
  }
}

await main()
