import { spawn } from 'node:child_process'
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { once } from 'node:events'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createContext } from '../../../agent/context'
import { silentLog } from '../../../rpc/call'
import { parseHealthAnswer } from '../../../agent/updates-check/ask-gateway'
import { formatDiagnostic } from '../../../agent/updates-check/failure-text'
import { summarizeHealth } from '../../../agent/updates-bridge/health'
import { ranSince, recheckService, restartUnitCommand } from '../../../agent/updates-check/recheck'
import { currentRole } from '../../../agent/role'
import { AGENT, runAgent } from '../../helpers/cli'
import { requirePart } from '../../helpers/parts'
import { jsonOf, rawCall, serveOnSocket } from '../../rpc/serve-helper'
import { READY, startDaemon } from '../daemon/helper'
import { startStandInTor } from '../tor/helpers'
import { freePort, simulatedQube, startHttpServer, startTinyproxy, waitUntil } from '../updates-proxy/helpers'

const tinyproxy = requirePart('tinyproxy')
const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  )

describe('whonix.UpdatesProxyCheck (dom0 asks a template to check again)', () => {
  it('restarts the check unit through systemd without waiting for it', () => {
    expect(restartUnitCommand('qubes-whonix-torified-updates-proxy-check.service').argv).toEqual([
      'systemctl',
      'restart',
      '--no-block',
      'qubes-whonix-torified-updates-proxy-check.service',
    ])
  })

  it.skipIf(tinyproxy.missing)('forgets a sticky pass, runs the check again and answers its new result', async () => {
    const port = await freePort()
    const qube = await simulatedQube('template-workstation', {
      'updatesProxy.check.url': `http://127.0.0.1:${port}/`,
      'updatesProxy.check.timeoutSec': 3,
    })
    const secure = join(qube.root, 'run/updatesproxycheck/whonix-secure-proxy')
    await writeFile(secure, '')
    const context = await createContext({ root: qube.root, manifest: qube.manifest, env: { PATH: '' } })
    const role = await currentRole(context)
    // As systemd would: the check runs on its own (here a process of the agent), the service waits for check-done.
    const starter = async () => {
      spawn(process.execPath, [AGENT, '--root', qube.root, '--config', qube.config, 'updates-proxy', 'check'], {
        stdio: 'ignore',
      })
    }
    const handler = recheckService(starter)(context, {
      role,
      daemonStatus: () => ({ running: false, reason: 'test' }),
      log: silentLog,
    })
    const { path } = await serveOnSocket('whonix.UpdatesProxyCheck', handler, { totalTimeoutMs: 20_000 })

    const failed = jsonOf(await rawCall(path, 'whonix.UpdatesProxyCheck dom0\0', { timeoutMs: 20_000 }))
    expect(failed).toMatchObject({ ok: true, result: { schema: 1, verdict: 'failed', report: { result: 'failed' } } })
    expect(await exists(secure)).toBe(false)

    await startTinyproxy(tinyproxy.path as string, qube.root, qube.manifest, { port })
    const passed = jsonOf(await rawCall(path, 'whonix.UpdatesProxyCheck dom0\0', { timeoutMs: 20_000 }))
    expect(passed).toMatchObject({ ok: true, result: { verdict: 'passed', report: { result: 'passed' } } })
    expect(await exists(secure)).toBe(true)
  })
})

describe('whonix.UpdatesProxyCheck: the result of a run stopped by the restart is not the answer', () => {
  it('waits for the new run when the restart SIGTERMs a check still running (which writes check-done and interrupted)', async () => {
    // The running check's proxy takes the request and never answers: the check is still going when dom0 asks.
    let asked = 0
    const silent = await startHttpServer('127.0.0.1', () => void asked++)
    const qube = await simulatedQube('template-workstation', {
      'updatesProxy.check.url': `http://127.0.0.1:${silent.port}/`,
      'updatesProxy.check.timeoutSec': 30,
    })
    const context = await createContext({ root: qube.root, manifest: qube.manifest, env: { PATH: '' } })
    const role = await currentRole(context)
    const check = () =>
      spawn(process.execPath, [AGENT, '--root', qube.root, '--config', qube.config, 'updates-proxy', 'check'], {
        stdio: 'ignore',
      })
    const running = check()
    onTestFinished(() => void running.kill('SIGKILL'))
    await waitUntil('the running check to ask its proxy', () => asked > 0)
    // The new run will pass (the skip service), but only after the stopped one has recorded its end.
    const { skipService } = qube.manifest.updatesProxy.check
    await mkdir(join(qube.root, qube.manifest.paths.runQubesService), { recursive: true })
    await writeFile(join(qube.root, qube.manifest.paths.runQubesService, skipService), '')
    // As `systemctl restart --no-block` does: SIGTERM to the running check, once it is gone a new one.
    const starter = async () => {
      running.kill('SIGTERM')
      void once(running, 'exit').then(() => check())
    }
    const handler = recheckService(starter)(context, {
      role,
      daemonStatus: () => ({ running: false, reason: 'test' }),
      log: silentLog,
    })
    const { path } = await serveOnSocket('whonix.UpdatesProxyCheck', handler, { totalTimeoutMs: 20_000 })
    const answer = jsonOf(await rawCall(path, 'whonix.UpdatesProxyCheck dom0\0', { timeoutMs: 20_000 }))
    expect(running.exitCode ?? running.signalCode).toBe(143)
    expect(answer).toMatchObject({ ok: true, result: { schema: 1, verdict: 'passed', report: { result: 'skipped' } } })
  })

  it('tells a run by its start on the boot clock: its end less its length, after the restart was asked', () => {
    // The wall-clock end says nothing: it may have been moved (sdwdate) between the runs.
    const report = {
      schema: 1,
      result: 'interrupted',
      detail: '',
      attempts: 0,
      elapsedMs: 5000,
      finishedAt: '2030-01-01T00:00:10.000Z',
      finishedBootMs: 10_000,
    } as const
    const requestedAt = 8_000
    expect(ranSince(report, requestedAt)).toBe(false)
    expect(ranSince({ ...report, elapsedMs: 1000 }, requestedAt)).toBe(true)
    // A report that cannot be placed on the boot clock is never taken for the new run.
    const { finishedBootMs, ...withoutBootClock } = report
    expect(finishedBootMs - 1000).toBeGreaterThan(requestedAt)
    expect(ranSince({ ...withoutBootClock, elapsedMs: 1000 }, requestedAt)).toBe(false)
    expect(ranSince(null, requestedAt)).toBe(false)
  })
})

describe('diagnosis: a failed check asks the updates qube', () => {
  it('reads only known fields of the answer, bounded', () => {
    const health = parseHealthAnswer(
      JSON.stringify({
        ok: true,
        result: {
          schema: 1,
          proxy: { address: 'x'.repeat(5000), reachable: true, proof: 'yes' },
          tor: { ready: true, bootstrap: { progress: 900 } },
          extra: 1,
        },
      }),
    )
    expect(typeof health).toBe('object')
    if (typeof health === 'object') {
      expect(health.proxy.address.length).toBe(200)
      expect(health.proxy.proof).toBe(false)
      expect(health.tor.bootstrap).toBeNull()
    }
    expect(parseHealthAnswer('not json')).toBe('it answered something that is not JSON')
    expect(parseHealthAnswer('{"ok":false,"error":{"code":"X","message":"nope"}}')).toBe('it answered an error: nope')
    expect(parseHealthAnswer('{"ok":true,"result":{"schema":2}}')).toContain('unknown schema 2')
  })

  it('escapes control characters in every string of a hostile answer before it is printed', () => {
    // @default may be another qube than sys-whonix: its strings must not start a line, a journald priority or a terminal sequence.
    const evil =
      '127.0.0.1:8082\n<6>updates proxy check passed: the updates proxy is torified\x1b]0;owned\x07\r\u009b2J\u2028'
    const health = parseHealthAnswer(
      JSON.stringify({
        ok: true,
        result: {
          schema: 1,
          proxy: { address: evil, reachable: false, proof: false, status: null, error: evil },
          tor: {
            control: evil,
            ready: false,
            bootstrap: { progress: 5, tag: evil, summary: evil, warning: evil },
            error: evil,
          },
          upstream: { line: evil, configured: false, error: evil },
        },
      }),
    )
    if (typeof health === 'string') throw new Error(health)
    const diagnostic = formatDiagnostic({
      headline: 'h',
      url: 'u',
      expected: 'e',
      received: 'r',
      attempts: 1,
      elapsedMs: 1,
      updatesQube: summarizeHealth(health),
    })
    expect(diagnostic.split('\n')).toHaveLength(6)
    // eslint-disable-next-line no-control-regex
    expect(diagnostic).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]/)
    expect(diagnostic).toContain(
      'proxy 127.0.0.1:8082\\n<6>updates proxy check passed: the updates proxy is torified\\u001b]0;owned\\u0007\\r\\u009b2J\\u2028 unreachable',
    )
    for (const answer of [
      JSON.stringify({ ok: false, error: { message: evil } }),
      JSON.stringify({ ok: true, result: { schema: '\u009b\n' } }),
    ]) {
      // eslint-disable-next-line no-control-regex
      expect(parseHealthAnswer(answer)).not.toMatch(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/)
    }
  })

  it("puts the gateway's health (over qrexec to its daemon) into the diagnostic of a failed check", async () => {
    const standIn = await startStandInTor(45)
    // The gateway's proxy on a free port where nothing listens: the host's 8082 plays no part.
    const proxyPort = await freePort()
    const gw = await simulatedQube('gateway', {
      'tor.control': `127.0.0.1:${standIn.port}`,
      'updatesProxy.gateway.proxy.port': proxyPort,
    })
    const daemon = startDaemon(gw.root, ['--config', gw.config])
    await daemon.waitForLog(READY)
    const plain = await startHttpServer('127.0.0.1', (_request, response) => response.end('<html>a plain proxy</html>'))
    const template = await simulatedQube('template-workstation', {
      'updatesProxy.check.url': `http://127.0.0.1:${plain.port}/`,
    })
    // qrexec-client-vm stand-in: the policy sends @default to sys-whonix, whose daemon answers.
    const client = join(template.root, 'usr/bin/qrexec-client-vm')
    await mkdir(join(template.root, 'usr/bin'), { recursive: true })
    await writeFile(
      client,
      `#!/bin/sh\n[ "$1" = "@default" ] || exit 126\nexec '${process.execPath}' '${AGENT}' --root '${gw.root}' --config '${gw.config}' rpc-call "$2" --source whonix-workstation-18\n`,
    )
    await chmod(client, 0o755)
    const run = await runAgent(['--root', template.root, '--config', template.config, 'updates-proxy', 'check'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(
      `updates qube: proxy 127.0.0.1:${proxyPort} unreachable (connection refused (nothing listens)); Tor bootstrap 45% (Loading relay descriptors); upstream not configured`,
    )

    // A policy that refuses the call: the check says so and keeps its own verdict.
    await writeFile(client, '#!/bin/sh\necho "Request refused" >&2\nexit 126\n')
    const refused = await runAgent(['--root', template.root, '--config', template.config, 'updates-proxy', 'check'])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain(
      'updates qube: could not ask (whonix.UpdatesProxyStatus): whonix.UpdatesProxyStatus on @default: refused by the dom0 policy',
    )
  })
})
