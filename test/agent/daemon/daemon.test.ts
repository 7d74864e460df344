import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { descriptorFor } from '../../../rpc/descriptor'
import { callSocketService } from '../../../rpc/socket-client'
import { runAgent } from '../../helpers/cli'
import { tempRoot } from '../../helpers/sandbox'
import { callThroughAgent } from '../../stand-ins/qrexec-agent'
import { manifestFile, READY, simulatedRoot, startDaemon } from './helper'

const call = async (root: string, service: string, source = 'dom0', input?: string) =>
  JSON.parse(
    (
      await callSocketService(join(root, 'run/qubes-rpc', service), descriptorFor(service, source), {
        timeoutMs: 10_000,
        maxOutputBytes: 1 << 22,
        ...(input === undefined ? {} : { input }),
      })
    ).toString(),
  )

function rssKiB(pid: number): number {
  const line =
    readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:')) ?? ''
  return Number(/([0-9]+)/.exec(line)?.[1])
}

/** A qubes.SetDateTime call that sends its descriptor and nothing more; resolves to its answer. */
function heldCall(root: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ path: join(root, 'run/qubes-rpc/qubes.SetDateTime'), allowHalfOpen: true })
    let text = ''
    socket.on('data', (chunk) => (text += chunk))
    socket.on('end', () => socket.end())
    socket.on('close', () => resolve(text))
    socket.write('qubes.SetDateTime dom0\0')
  })
}

/** A gateway daemon with this drain bound, and one call held open in it. */
async function daemonHoldingACall(drainTimeoutMs: number) {
  const root = await simulatedRoot('gateway')
  const config = manifestFile(await tempRoot(), (m) => (m.services.drainTimeoutMs = drainTimeoutMs))
  const daemon = startDaemon(root, ['--config', config])
  await daemon.waitForLog(READY)
  const answer = heldCall(root)
  await sleep(200)
  return { daemon, answer }
}

describe('the daemon on a simulated Whonix-Gateway', () => {
  it('serves the services of its role on /run/qubes-rpc sockets, logs with journald priorities, stops cleanly on SIGTERM', async () => {
    const root = await simulatedRoot('gateway')
    const daemon = startDaemon(root)
    await daemon.waitForLog(READY)
    const socketDir = join(root, 'run/qubes-rpc')
    const sockets = readdirSync(socketDir).sort()
    expect(sockets).toEqual(
      expect.arrayContaining(['qubes.SetDateTime', 'qubes.SyncNtpClock', 'whonix.Role', 'whonix.Status']),
    )
    for (const name of readdirSync(socketDir)) expect(statSync(join(socketDir, name)).mode & 0o777).toBe(0o660)

    expect(await call(root, 'whonix.Role')).toMatchObject({
      ok: true,
      result: { whonix: 'gateway', class: 'proxy', name: 'sys-whonix' },
    })
    const status = await call(root, 'whonix.Status')
    expect(status.result.daemon).toMatchObject({ running: true, pid: daemon.child.pid, services: sockets })
    expect((await call(root, 'qubes.SyncNtpClock')).result).toMatchObject({
      synchronised: false,
      reason: expect.stringMatching(/sdwdate/),
    })

    // The CLI's status asks the running daemon.
    const cliStatus = await runAgent(['--root', root, 'status', '--json'])
    expect(JSON.parse(cliStatus.stdout).daemon).toMatchObject({ running: true, pid: daemon.child.pid })

    expect(await daemon.stop('SIGTERM')).toBe(0)
    for (const line of daemon.log().trimEnd().split('\n')) expect(line).toMatch(/^<[3467]>/)
    expect(daemon.log()).toMatch(/<6>stopped/)
    // Sockets the daemon created are gone with it: qrexec then reports "not found", not a hang.
    expect(readdirSync(socketDir)).toEqual([])
    expect(JSON.parse((await runAgent(['--root', root, 'status', '--json'])).stdout).daemon).toMatchObject({
      running: false,
    })
  })

  it('rpc-call sends the descriptor of the given source and prints the answer; an error answer exits 1', async () => {
    const root = await simulatedRoot('gateway')
    const daemon = startDaemon(root)
    await daemon.waitForLog(READY)
    const good = await runAgent(['--root', root, 'rpc-call', 'qubes.SetDateTime', '--source', 'dom0', '--stdin'], {
      input: '2026-05-06T07:08:09Z\n',
    })
    expect(good.code).toBe(0)
    expect(JSON.parse(good.stdout)).toMatchObject({ ok: true, result: { clockSet: false } })
    expect(readFileSync(join(root, 'run/qubes-whonix/qubes.SetDateTime'), 'utf8')).toBe('2026-05-06T07:08:09Z\n')
    const bad = await runAgent(['--root', root, 'rpc-call', 'qubes.SetDateTime', '--stdin'], {
      input: '2026-13-45T99:00:00Z\n',
    })
    expect(bad.code).toBe(1)
    expect(JSON.parse(bad.stdout).error.code).toBe('TIMESTAMP_INVALID')
    const missing = await runAgent(['--root', root, 'rpc-call', 'whonix.Nothing'])
    expect(missing.code).toBe(127)
    expect(missing.stderr).toMatch(/no socket for whonix.Nothing/)
    const badSource = await runAgent(['--root', root, 'rpc-call', 'whonix.Role', '--source', '1bad'])
    expect(badSource.code).toBe(2) // an option that names no qube: a usage error
    expect(badSource.stderr).toMatch(/source "1bad" is not a qube name/)
  })

  it('answers through the qrexec-agent stand-in via the /etc/qubes-rpc link, as R4.2 finds it', async () => {
    const root = await simulatedRoot('gateway')
    expect((await runAgent(['--root', root, 'files', 'write', root])).code).toBe(0)
    const link = join(root, 'etc/qubes-rpc/whonix.Role')
    // The generated link points at the system path; inside the sandbox it must be re-rooted.
    expect(readFileSync(join(root, 'etc/qubes/rpc-config/whonix.Role'), 'utf8')).toMatch(/exit-on-service-eof = true/)
    const daemon = startDaemon(root)
    await daemon.waitForLog(READY)
    const { symlinkSync, rmSync } = await import('node:fs')
    rmSync(link)
    symlinkSync(join(root, 'run/qubes-rpc/whonix.Role'), link)
    const result = await callThroughAgent(
      { serviceDirs: [join(root, 'etc/qubes-rpc')], rpcConfigDirs: [join(root, 'etc/qubes/rpc-config')] },
      { service: 'whonix.Role', source: 'dom0' },
    )
    expect(result).toMatchObject({ kind: 'socket', exitCode: 0 })
    expect(JSON.parse(result.stdout.toString()).result.whonix).toBe('gateway')
  })

  it('a plain qube serves only the services for any qube', async () => {
    const root = await simulatedRoot('plain-qube')
    const daemon = startDaemon(root)
    await daemon.waitForLog(READY)
    const sockets = readdirSync(join(root, 'run/qubes-rpc'))
    expect(sockets).toEqual(expect.arrayContaining(['whonix.Role', 'whonix.Status']))
    expect(sockets).not.toContain('qubes.SetDateTime')
    expect((await call(root, 'whonix.Role')).result.whonix).toBeNull()
  })
})

describe('the daemon under stress and signals', () => {
  it('10 MiB sent to a service limited to 4 KiB: a clear error, and the daemon RSS stays bounded', async () => {
    const root = await simulatedRoot('gateway')
    const config = manifestFile(
      await tempRoot(),
      (m) => (m.services.table['whonix.Status'].limits = { maxInputBytes: 4096 }),
    )
    const daemon = startDaemon(root, ['--config', config])
    await daemon.waitForLog(READY)
    await call(root, 'whonix.Status')
    const before = rssKiB(daemon.child.pid ?? 0)
    for (let round = 0; round < 3; round++) {
      const answer = await new Promise<string>((resolve) => {
        const socket = connect({ path: join(root, 'run/qubes-rpc/whonix.Status'), allowHalfOpen: true })
        let text = ''
        socket.on('data', (chunk) => (text += chunk))
        socket.on('error', () => undefined)
        socket.on('close', () => resolve(text))
        socket.write('whonix.Status dom0\0')
        const block = Buffer.alloc(1 << 20, 0x41)
        let sent = 0
        const pump = () => {
          while (sent < 10 && !socket.destroyed) {
            sent++
            if (!socket.write(block)) return void socket.once('drain', pump)
          }
          socket.end()
        }
        pump()
      })
      expect(JSON.parse(answer).error.code).toBe('INPUT_TOO_LARGE')
    }
    const after = rssKiB(daemon.child.pid ?? 0)
    expect(after - before).toBeLessThan(8 * 1024)
    expect((await call(root, 'whonix.Role')).ok).toBe(true)
  })

  it('SIGTERM lets an open call finish within the drain bound', async () => {
    const root = await simulatedRoot('gateway')
    const daemon = startDaemon(root)
    await daemon.waitForLog(READY)
    // A call that has sent its descriptor but not yet its line.
    const answer = new Promise<string>((resolve) => {
      const socket = connect({ path: join(root, 'run/qubes-rpc/qubes.SetDateTime'), allowHalfOpen: true })
      let text = ''
      socket.on('data', (chunk) => (text += chunk))
      socket.on('close', () => resolve(text))
      socket.write('qubes.SetDateTime dom0\0')
      void daemon.waitForLog(/SIGTERM/).then(async () => {
        await sleep(100)
        socket.end('2026-01-01T00:00:00Z\n')
      })
    })
    await sleep(100)
    daemon.child.kill('SIGTERM')
    expect(JSON.parse(await answer).ok).toBe(true)
    expect(await daemon.exited).toBe(0)
  })

  it('SIGTERM cuts a call still open after the drain bound, with SHUTTING_DOWN', async () => {
    const { daemon, answer } = await daemonHoldingACall(200)
    const started = Date.now()
    daemon.child.kill('SIGTERM')
    expect(JSON.parse(await answer).error.code).toBe('SHUTTING_DOWN')
    expect(await daemon.exited).toBe(0)
    expect(Date.now() - started).toBeLessThan(3000)
  })

  it('a second SIGTERM cuts the calls the first one still waits for', async () => {
    const { daemon, answer } = await daemonHoldingACall(30_000)
    const started = Date.now()
    daemon.child.kill('SIGTERM')
    await daemon.waitForLog(/open calls get 30000 ms/)
    daemon.child.kill('SIGTERM')
    expect(JSON.parse(await answer).error.code).toBe('SHUTTING_DOWN')
    expect(await daemon.exited).toBe(0)
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('a reload or a stop asked while it still starts is done once it has started, not its death', async () => {
    const root = await simulatedRoot('gateway')
    const reloaded = startDaemon(root)
    await reloaded.waitForLog(/<7>starting /)
    reloaded.child.kill('SIGHUP')
    await reloaded.waitForLog(
      /SIGHUP: reloading the manifest[^]*<6>serving |<6>serving [^]*SIGHUP: reloading the manifest/,
    )
    expect(reloaded.child.exitCode).toBe(null)
    expect((await call(root, 'whonix.Role')).ok).toBe(true)
    expect(await reloaded.stop('SIGTERM')).toBe(0)

    const stopped = startDaemon(await simulatedRoot('gateway'))
    await stopped.waitForLog(/<7>starting /)
    stopped.child.kill('SIGTERM')
    expect(await stopped.exited).toBe(0)
    expect(stopped.log()).toMatch(/SIGTERM: shutting down/)
  })

  it('SIGHUP reloads the manifest: a service taken out stops being served; a broken manifest keeps the old one', async () => {
    const root = await simulatedRoot('gateway')
    const dir = await tempRoot()
    const config = manifestFile(dir, () => undefined)
    const daemon = startDaemon(root, ['--config', config])
    await daemon.waitForLog(READY)
    manifestFile(dir, (m) => delete m.services.table['qubes.SyncNtpClock'])
    daemon.child.kill('SIGHUP')
    await daemon.waitForLog(/<6>serving [^\n]*\n[^]*<6>serving /)
    expect(
      daemon
        .log()
        .trimEnd()
        .split('\n')
        .filter((line) => line.startsWith('<6>serving '))
        .pop(),
    ).not.toMatch(/SyncNtpClock/)
    expect(existsSync(join(root, 'run/qubes-rpc/qubes.SyncNtpClock'))).toBe(false)
    expect((await call(root, 'whonix.Role')).ok).toBe(true)
    manifestFile(dir, (m) => (m.services.defaultLimits.maxConcurrent = 'many'))
    daemon.child.kill('SIGHUP')
    await daemon.waitForLog(/<3>reload: .*maxConcurrent/)
    expect((await call(root, 'whonix.Role')).ok).toBe(true)
    expect(await daemon.stop()).toBe(0)
  })

  it('refuses to start while another daemon serves the same sockets', async () => {
    const root = await simulatedRoot('gateway')
    const first = startDaemon(root)
    await first.waitForLog(READY)
    const second = await runAgent(['--root', root, 'daemon'])
    expect(second.code).toBe(1)
    expect(second.stderr).toMatch(/served by another process/)
    expect((await call(root, 'whonix.Role')).ok).toBe(true)
  })
})
