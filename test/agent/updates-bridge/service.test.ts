import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { mkdir } from 'node:fs/promises'
import { connect, createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { PassThrough } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it, onTestFinished } from 'vitest'
import { runAgent } from '../../helpers/cli'
import { requirePart } from '../../helpers/parts'
import { rawCall } from '../../rpc/serve-helper'
import { callThroughAgent, type StandInCall } from '../../stand-ins/qrexec-agent'
import { servingGateway } from './helpers'
import { startStandInTor, startTor } from '../tor/helpers'
import { freePort, simulatedQube, startHttpServer, startTinyproxy } from '../updates-proxy/helpers'

const tinyproxy = requirePart('tinyproxy')
const tor = requirePart('tor')
const PROOF = '<meta name="application-name" content="tor proxy"/>'

/** sys-whonix, simulated, with its daemon running (the real bundle) and these settings. */
async function gateway(changes: Record<string, unknown>) {
  const { agent, ...qube } = await servingGateway({ 'updatesProxy.gateway.torReadyTimeoutMs': 1500, ...changes })
  return {
    ...qube,
    call: (call: Omit<StandInCall, 'source'>) =>
      callThroughAgent(agent, { source: 'whonix-workstation-18', timeoutMs: 30_000, ...call }),
  }
}

/**
 * The caller's stdin as a template's forwarder gives it: the request, and no EOF until the
 * answer is complete (tinyproxy stops relaying when its client half-closes).
 */
function openRequest(text: string): PassThrough {
  const input = new PassThrough()
  input.write(text)
  onTestFinished(() => void input.end())
  return input
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')

function split(response: Buffer): { head: string; body: Buffer } {
  const end = response.indexOf('\r\n\r\n')
  return { head: response.subarray(0, end).toString('latin1'), body: response.subarray(end + 4) }
}

/** What tinyproxy answers when asked directly, to compare with the answer through qrexec. */
function directRequest(port: number, request: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket: Socket = connect({ host: '127.0.0.1', port }, () => socket.write(request))
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks)))
  })
}

describe.skipIf(tinyproxy.missing || tor.missing)(
  'qubes.UpdatesProxy through the qrexec-agent stand-in and the real daemon',
  () => {
    it('answers 503 saying why while a real tor (no network) never bootstraps, but lets the check through at once', async () => {
      const proxyPort = await freePort()
      const qube = await gateway({
        'updatesProxy.gateway.proxy.port': proxyPort,
        'tor.control': 'unix:/run/tor/control',
      })
      await startTor(tor.path as string, qube.root, {
        controlSocket: join(qube.root, 'run/tor/control'),
        cookieFile: join(qube.root, 'run/tor/control.authcookie'),
      })
      await startTinyproxy(tinyproxy.path as string, qube.root, qube.manifest, { port: proxyPort })

      const started = performance.now()
      const refused = await qube.call({
        service: 'qubes.UpdatesProxy',
        input: openRequest(
          'GET http://deb.debian.org/debian/dists/bookworm/InRelease HTTP/1.1\r\nHost: deb.debian.org\r\n\r\n',
        ),
      })
      const took = performance.now() - started
      const answer = refused.stdout.toString('utf8')
      expect(refused.exitCode).toBe(0)
      expect(answer).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/)
      expect(answer).toMatch(/\r\nX-Whonix-Updates-Proxy-Not-Ready: Tor is not ready: bootstrap \d+% \(.+\)\r\n/)
      expect(split(refused.stdout).body.toString()).toMatch(/^Tor is not ready: bootstrap \d+%/)
      // It waited for the test's bound (1.5 s), and no longer than it.
      expect(took).toBeGreaterThanOrEqual(1400)
      expect(took).toBeLessThan(15_000)

      // The templates' check asks the proxy for its own page: no Tor needed, so no 503.
      const check = await qube.call({
        service: 'qubes.UpdatesProxy',
        input: openRequest(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${proxyPort}\r\n\r\n`),
      })
      expect(check.stdout.toString()).toContain(PROOF)

      const health = await qube.call({ service: 'whonix.UpdatesProxyStatus' })
      const status = JSON.parse(health.stdout.toString())
      expect(status).toMatchObject({
        ok: true,
        result: {
          schema: 1,
          proxy: { reachable: true, proof: true },
          tor: { ready: false, control: `unix:${join(qube.root, 'run/tor/control')}` },
          upstream: { configured: false },
        },
      })
      expect(status.result.tor.bootstrap.progress).toBeLessThan(100)
    })

    it('stops within a second of SIGTERM after a call opened the shared Tor readiness connection', async () => {
      const proxyPort = await freePort()
      const qube = await gateway({
        'updatesProxy.gateway.proxy.port': proxyPort,
        'tor.control': 'unix:/run/tor/control',
      })
      await startTor(tor.path as string, qube.root, {
        controlSocket: join(qube.root, 'run/tor/control'),
        cookieFile: join(qube.root, 'run/tor/control.authcookie'),
      })
      const health = await qube.call({ service: 'whonix.UpdatesProxyStatus' })
      expect(JSON.parse(health.stdout.toString())).toMatchObject({
        ok: true,
        result: { tor: { control: `unix:${join(qube.root, 'run/tor/control')}` } },
      })
      expect(JSON.parse(health.stdout.toString()).result.tor.bootstrap).not.toBeNull()
      const signalled = performance.now()
      const code = await Promise.race([qube.daemon.stop('SIGTERM'), sleep(5000).then(() => 'still running')])
      expect(code).toBe(0)
      expect(performance.now() - signalled).toBeLessThan(1000)
    })

    it('carries a download through tinyproxy byte for byte once Tor is ready', async () => {
      const payload = Buffer.alloc(8 * 1024 * 1024)
      for (let index = 0; index < payload.length; index += 4) payload.writeUInt32LE((index * 2654435761) >>> 0, index)
      // Not on 127.0.0.1: the proxy refuses its own address, as on sys-whonix.
      const origin = await startHttpServer('127.0.0.2', (_request, response) => {
        response.sendDate = false
        response.writeHead(200, {
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(payload.length),
        })
        response.end(payload)
      })
      const standIn = await startStandInTor(100)
      const proxyPort = await freePort()
      const qube = await gateway({
        'updatesProxy.gateway.proxy.port': proxyPort,
        'tor.control': `127.0.0.1:${standIn.port}`,
      })
      await startTinyproxy(tinyproxy.path as string, qube.root, qube.manifest, { port: proxyPort })

      const request = `GET http://127.0.0.2:${origin.port}/pool/main/big.deb HTTP/1.0\r\nHost: 127.0.0.2:${origin.port}\r\n\r\n`
      const result = await qube.call({
        service: 'qubes.UpdatesProxy',
        input: openRequest(request),
        maxOutputBytes: 32 * 1024 * 1024,
      })
      const { head, body } = split(result.stdout)
      expect(head).toMatch(/^HTTP\/1\.[01] 200 OK/)
      expect(body.length).toBe(payload.length)
      expect(sha256(body)).toBe(sha256(payload))
      // Tinyproxy's own answer to the same request, asked directly: the same bytes.
      expect(sha256(result.stdout)).toBe(sha256(await directRequest(proxyPort, request)))
    })
  },
)

describe('qubes.UpdatesProxy bridge: half-close and the end of the answer', () => {
  it("passes the caller's EOF on, and every byte of a long answer back", async () => {
    const answer = Buffer.alloc(20 * 1024 * 1024, 'a')
    answer.write('END', answer.length - 3)
    let receivedBeforeEof = ''
    const proxy = createServer({ allowHalfOpen: true }, (socket) => {
      socket.setEncoding('latin1').on('data', (text: string) => (receivedBeforeEof += text))
      // Answers only after the caller's EOF, then closes: the bridge must not lose the tail.
      socket.on('end', () => socket.end(answer))
    })
    proxy.listen(0, '127.0.0.1')
    await once(proxy, 'listening')
    onTestFinished(() => void proxy.close())
    const standIn = await startStandInTor(100)
    const qube = await gateway({
      'updatesProxy.gateway.proxy.port': (proxy.address() as { port: number }).port,
      'tor.control': `127.0.0.1:${standIn.port}`,
    })
    const result = await qube.call({
      service: 'qubes.UpdatesProxy',
      input: 'CONNECT deb.debian.org:443 HTTP/1.1\r\n\r\nclient bytes',
      maxOutputBytes: 32 * 1024 * 1024,
    })
    expect(receivedBeforeEof).toBe('CONNECT deb.debian.org:443 HTTP/1.1\r\n\r\nclient bytes')
    expect(result.stdout.length).toBe(answer.length)
    expect(result.stdout.subarray(-3).toString()).toBe('END')
  })

  it('answers 503 naming the proxy when nothing listens there', async () => {
    const standIn = await startStandInTor(100)
    const qube = await gateway({
      'updatesProxy.gateway.proxy.port': await freePort(),
      'tor.control': `127.0.0.1:${standIn.port}`,
    })
    const result = await qube.call({
      service: 'qubes.UpdatesProxy',
      input: openRequest('GET http://deb.debian.org/ HTTP/1.1\r\n\r\n'),
    })
    expect(result.stdout.toString()).toMatch(
      /^HTTP\/1\.1 503 [^]*X-Whonix-Updates-Proxy-Not-Ready: the updates proxy 127\.0\.0\.1:\d+ is not reachable: ECONNREFUSED/,
    )
  })
})

describe('qubes.UpdatesProxy while Tor is not ready: callers that go, and calls the server refuses', () => {
  const CONNECT =
    'qubes.UpdatesProxy+ whonix-gateway-18\0CONNECT deb.debian.org:443 HTTP/1.1\r\nHost: deb.debian.org:443\r\n\r\n'
  // The n-th of many calls, from 4 source qubes: each holds at most 16 calls (its share of 64).
  const connectFrom = (index: number) =>
    CONNECT.replace('whonix-gateway-18', `whonix-gateway-${Math.floor(index / 16)}`)

  /** A gateway whose Tor stays at 5% and whose bridge would wait a minute for it. */
  async function waitingGateway() {
    const standIn = await startStandInTor(5)
    const qube = await gateway({
      'updatesProxy.gateway.proxy.port': await freePort(),
      'tor.control': `127.0.0.1:${standIn.port}`,
      'updatesProxy.gateway.torReadyTimeoutMs': 60_000,
    })
    return { ...qube, socket: join(qube.root, 'run/qubes-rpc/qubes.UpdatesProxy') }
  }

  /** Callers that sent a CONNECT and keep their connection open, waiting: each holds a slot (16 per source qube, its share). */
  function holdSlots(path: string, count: number): Promise<Socket[]> {
    return Promise.all(
      Array.from({ length: count }, (_, index) => {
        const socket = connect({ path, allowHalfOpen: true })
        socket.on('error', () => undefined)
        onTestFinished(() => void socket.destroy())
        return once(socket, 'connect').then(() => (socket.write(connectFrom(index)), socket))
      }),
    )
  }

  it("ends the wait for Tor at the caller's EOF: 503 at once, and the slot is free again", async () => {
    const qube = await waitingGateway()
    const started = performance.now()
    // Every slot (64) taken by callers that half-close: each is answered, none waits the minute.
    const answers = await Promise.all(
      Array.from({ length: 64 }, (_, index) => rawCall(qube.socket, connectFrom(index), { timeoutMs: 20_000 })),
    )
    expect(performance.now() - started).toBeLessThan(15_000)
    for (const answer of answers) {
      expect(answer.output.toString()).toMatch(
        /^HTTP\/1\.1 503 Service Unavailable\r\n[^]*\r\nX-Whonix-Updates-Proxy-Not-Ready: Tor is not ready: bootstrap 5%/,
      )
    }
    // Their slots are free: one more caller is not refused as busy.
    const next = await rawCall(qube.socket, CONNECT, { timeoutMs: 20_000 })
    expect(next.output.toString()).toMatch(/X-Whonix-Updates-Proxy-Not-Ready: Tor is not ready/)
    expect(next.output.toString()).not.toContain('too many calls')
  })

  it('answers a call refused as busy with an HTTP 503 saying so, not an empty reply', async () => {
    const qube = await waitingGateway()
    await holdSlots(qube.socket, 64)
    // The server has counted them all before the next one comes.
    await new Promise((resolve) => setTimeout(resolve, 500))
    const refused = await rawCall(
      qube.socket,
      'qubes.UpdatesProxy+ whonix-workstation-18\0GET / HTTP/1.1\r\nHost: 127.0.0.1:8082\r\n\r\n',
      { timeoutMs: 5000, halfClose: false },
    )
    const answer = refused.output.toString()
    expect(answer).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/)
    expect(answer).toMatch(
      /\r\nX-Whonix-Updates-Proxy-Not-Ready: too many calls at once: qubes\.UpdatesProxy is busy: 64 calls already open/,
    )
    expect(split(refused.output).body.toString()).toMatch(/^too many calls at once/)
  })
})

describe.skipIf(tinyproxy.missing)(
  'the whole path: template check -> forwarder -> qrexec -> daemon -> tinyproxy',
  () => {
    it("passes the template's check over qubes.UpdatesProxy while Tor is still bootstrapping", async () => {
      const standIn = await startStandInTor(5)
      const proxyPort = await freePort()
      const gw = await gateway({
        'updatesProxy.gateway.proxy.port': proxyPort,
        'tor.control': `127.0.0.1:${standIn.port}`,
      })
      await startTinyproxy(tinyproxy.path as string, gw.root, gw.manifest, { port: proxyPort })
      // The template's end: Qubes' forwarder turns each connection to its port into a qrexec call.
      const forwarder = createServer({ allowHalfOpen: true }, (socket) => {
        socket.on('error', () => undefined)
        const input = new PassThrough()
        socket.pipe(input)
        void gw.call({ service: 'qubes.UpdatesProxy', input }).then((result) => socket.end(result.stdout))
      })
      forwarder.listen(0, '127.0.0.1')
      await once(forwarder, 'listening')
      onTestFinished(() => void forwarder.close())
      const template = await simulatedQube('template-workstation', {
        'updatesProxy.check.url': `http://127.0.0.1:${(forwarder.address() as { port: number }).port}/`,
        'updatesProxy.check.timeoutSec': 10,
      })
      await mkdir(join(template.root, 'run/updatesproxycheck'), { recursive: true })
      const run = await runAgent(['--root', template.root, '--config', template.config, 'updates-proxy', 'check'])
      expect(run.stderr).toBe('')
      expect(run.code).toBe(0)
    })
  },
)
