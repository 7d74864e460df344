import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createContext } from '../../agent/context'
import { currentRole } from '../../agent/role'
import { TorReadinessMonitor } from '../../agent/tor/readiness'
import { recheckService } from '../../agent/updates-check/recheck'
import { silentLog } from '../../rpc/call'
import { jsonHandler } from '../../rpc/json'
import { AGENT } from '../helpers/cli'
import { jsonOf, rawCall, serveOnSocket } from '../rpc/serve-helper'
import { startStandInTor } from '../agent/tor/helpers'
import { simulatedQube } from '../agent/updates-proxy/helpers'

// sdwdate and qubes.SetDateTime move the wall clock of a Whonix qube, by hours at times.
// Here Date.now() jumps an hour at every read: no deadline, wait or ordering may notice.

const HOUR = 3_600_000
const realNow = Date.now.bind(Date)

function wallClockJumping(step: number): void {
  let jumps = 0
  vi.spyOn(Date, 'now').mockImplementation(() => realNow() + step * ++jumps)
}

afterEach(() => vi.restoreAllMocks())

describe('durations are measured on the monotonic clock', () => {
  /** A service whose calls take `ms`, with a 1 s deadline. */
  const slowService = (ms: number) =>
    serveOnSocket(
      'test.Slow',
      jsonHandler(async () => {
        await new Promise((resolve) => setTimeout(resolve, ms))
        return 'done'
      }),
      { totalTimeoutMs: 1000 },
    )

  it('a call within its deadline is served while the wall clock jumps forward', async () => {
    const { path } = await slowService(300)
    wallClockJumping(HOUR)
    expect(jsonOf(await rawCall(path, 'test.Slow dom0\0'))).toEqual({ ok: true, result: 'done' })
  })

  it('a call past its deadline is cut on time while the wall clock jumps back', async () => {
    const { path } = await slowService(20_000)
    wallClockJumping(-HOUR)
    const started = performance.now()
    expect(jsonOf(await rawCall(path, 'test.Slow dom0\0', { timeoutMs: 15_000 })).error?.code).toBe('CALL_TIMEOUT')
    expect(performance.now() - started).toBeLessThan(10_000)
  })

  it.each([
    ['forward', HOUR],
    ['back', -HOUR],
  ])('the wait for Tor lasts its bound, no less and no more, while the wall clock jumps %s', async (_way, step) => {
    const standIn = await startStandInTor(5)
    const monitor = new TorReadinessMonitor({
      address: { kind: 'tcp', host: '127.0.0.1', port: standIn.port },
      cookieFile: null,
      timeoutMs: 5000,
      maxReplyBytes: 65536,
    })
    wallClockJumping(step)
    const started = performance.now()
    const readiness = await monitor.waitReady(800)
    const waited = performance.now() - started
    monitor.close()
    expect(readiness).toMatchObject({ ready: false, reason: expect.stringMatching(/^Tor is not ready: bootstrap 5%/) })
    expect(waited).toBeGreaterThanOrEqual(750)
    expect(waited).toBeLessThan(10_000)
  })

  it("the recheck takes the new run's result though its wall-clock time lies an hour before the request", async () => {
    const qube = await simulatedQube('template-workstation', { 'updatesProxy.check.timeoutSec': 10 })
    const { skipService } = qube.manifest.updatesProxy.check
    await mkdir(join(qube.root, qube.manifest.paths.runQubesService), { recursive: true })
    await writeFile(join(qube.root, qube.manifest.paths.runQubesService, skipService), '')
    const context = await createContext({ root: qube.root, manifest: qube.manifest, env: { PATH: '' } })
    const role = await currentRole(context)
    // The real check, in its own process: its report's wall-clock end is the real one.
    const starter = async () =>
      void spawn(process.execPath, [AGENT, '--root', qube.root, '--config', qube.config, 'updates-proxy', 'check'], {
        stdio: 'ignore',
      })
    const handler = recheckService(starter)(context, {
      role,
      daemonStatus: () => ({ running: false, reason: 'test' }),
      log: silentLog,
    })
    const { path } = await serveOnSocket('whonix.UpdatesProxyCheck', handler, { totalTimeoutMs: 20_000 })
    // The daemon's wall clock was set an hour ahead of the check's (sdwdate ran in between).
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + HOUR)
    const started = performance.now()
    const answer = jsonOf(await rawCall(path, 'whonix.UpdatesProxyCheck dom0\0', { timeoutMs: 20_000 }))
    expect(answer).toMatchObject({ ok: true, result: { schema: 1, verdict: 'passed', report: { result: 'skipped' } } })
    // Answered as soon as the run was done, not at the end of the check's bound.
    expect(performance.now() - started).toBeLessThan(10_000)
  })

  it('no source of the agent or the rpc library reads Date.now()', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url))
    const offenders: string[] = []
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name)
        if (statSync(path).isDirectory()) walk(path)
        else if (name.endsWith('.ts') && /\bDate\.now\(/.test(readFileSync(path, 'utf8')))
          offenders.push(path.slice(root.length))
      }
    }
    for (const dir of ['agent', 'rpc']) walk(join(root, dir))
    expect(offenders).toEqual([])
  })
})
