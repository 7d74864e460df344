import { once } from 'node:events'
import { writeFile } from 'node:fs/promises'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { describe, expect, it, onTestFinished } from 'vitest'
import { parseControlAddress } from '../../../agent/tor/address'
import { parseBootstrapPhase, readBootstrapPhase } from '../../../agent/tor/bootstrap'
import { openTorControl, type TorControlSettings } from '../../../agent/tor/client'
import { TorReadinessMonitor } from '../../../agent/tor/readiness'
import { getinfoValue, replyWords } from '../../../agent/tor/syntax'
import { requirePart } from '../../helpers/parts'
import { tempRoot } from '../../helpers/sandbox'
import { startStandInTor, startTor } from './helpers'
import { freePort } from '../updates-proxy/helpers'

const tor = requirePart('tor')
// Generous: a loaded test machine must not turn slowness into failures.
const LIMITS = { timeoutMs: 10_000, maxReplyBytes: 65536 }
const tcp = (port: number): TorControlSettings => ({
  address: { kind: 'tcp', host: '127.0.0.1', port },
  cookieFile: null,
  ...LIMITS,
})

/** A control port that answers with whatever the test says. */
async function hostilePort(onConnect: (socket: Socket) => void): Promise<number> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined)
    onConnect(socket)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  onTestFinished(() => void server.close())
  return (server.address() as { port: number }).port
}

describe('Tor control syntax', () => {
  it('parses words, keywords and quoted strings with escapes', () => {
    const { words, keywords } = replyWords('AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE="/run/tor/a \\"b\\"\\\\c"')
    expect(words).toEqual(['AUTH'])
    expect(keywords.get('METHODS')).toBe('COOKIE,SAFECOOKIE')
    expect(keywords.get('COOKIEFILE')).toBe('/run/tor/a "b"\\c')
    expect(() => replyWords('X KEY="unterminated')).toThrow(/unterminated/)
  })

  it('reads GETINFO values, including data blocks', () => {
    expect(getinfoValue(['status/bootstrap-phase=NOTICE BOOTSTRAP PROGRESS=5', 'OK'], 'status/bootstrap-phase')).toBe(
      'NOTICE BOOTSTRAP PROGRESS=5',
    )
    expect(getinfoValue(['config-text=\nA 1\nB 2', 'OK'], 'config-text')).toBe('A 1\nB 2')
    expect(() => getinfoValue(['OK'], 'version')).toThrow(/no value for version/)
  })

  it('parses bootstrap phases, warnings, and refuses nonsense', () => {
    expect(parseBootstrapPhase('NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"')).toEqual({
      progress: 100,
      tag: 'done',
      summary: 'Done',
      warning: null,
    })
    expect(
      parseBootstrapPhase(
        'WARN BOOTSTRAP PROGRESS=10 TAG=conn_done SUMMARY="Connected" WARNING="Connection refused" REASON=CONNECTREFUSED',
      ).warning,
    ).toBe('Connection refused')
    expect(() => parseBootstrapPhase('NOTICE BOOTSTRAP PROGRESS=101')).toThrow(/malformed/)
    expect(() => parseBootstrapPhase('NOTICE CIRCUIT_ESTABLISHED')).toThrow(/malformed/)
  })

  it('parses control addresses', () => {
    expect(parseControlAddress('unix:/run/tor/control')).toEqual({ kind: 'unix', path: '/run/tor/control' })
    expect(parseControlAddress('127.0.0.1:9051')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 9051 })
    expect(parseControlAddress('[::1]:9051')).toEqual({ kind: 'tcp', host: '::1', port: 9051 })
    for (const bad of ['localhost:9051', 'unix:relative', '127.0.0.1:70000', `unix:/${'x'.repeat(120)}`])
      expect(parseControlAddress(bad)).toBeNull()
  })
})

describe.skipIf(tor.missing)('Tor control client against a real tor (no network)', () => {
  it('authenticates with SAFECOOKIE over TCP (cookie path from PROTOCOLINFO) and reads the bootstrap phase', async () => {
    const real = await startTor(tor.path as string, await tempRoot())
    const control = await openTorControl(tcp(real.controlPort))
    onTestFinished(() => control.connection.close())
    expect(control.info.methods).toEqual(expect.arrayContaining(['COOKIE', 'SAFECOOKIE']))
    expect(control.info.cookieFile).toBe(real.cookieFile)
    expect(control.info.torVersion).toMatch(/^0\.4\./)
    const phase = await readBootstrapPhase(control.connection)
    expect(phase.progress).toBeLessThan(100)
    expect(phase.tag).not.toBe('')
  })

  it('authenticates over the control socket with the configured cookie, and refuses a wrong cookie before sending it', async () => {
    const dir = await tempRoot()
    const real = await startTor(tor.path as string, dir)
    const socket: TorControlSettings = {
      address: { kind: 'unix', path: real.controlSocket },
      cookieFile: real.cookieFile,
      ...LIMITS,
    }
    const control = await openTorControl(socket)
    expect((await readBootstrapPhase(control.connection)).progress).toBeLessThan(100)
    control.connection.close()

    const wrong = join(dir, 'wrong-cookie')
    await writeFile(wrong, Buffer.alloc(32, 7))
    await expect(openTorControl({ ...socket, cookieFile: wrong })).rejects.toMatchObject({ code: 'TOR_AUTH_FAILED' })
    const short = join(dir, 'short-cookie')
    await writeFile(short, Buffer.alloc(31))
    await expect(openTorControl({ ...socket, cookieFile: short })).rejects.toMatchObject({
      code: 'TOR_COOKIE_UNREADABLE',
    })
  })

  it('says why Tor is not ready within the bound', async () => {
    const real = await startTor(tor.path as string, await tempRoot())
    const monitor = new TorReadinessMonitor(tcp(real.controlPort))
    onTestFinished(() => monitor.close())
    const started = performance.now()
    const readiness = await monitor.waitReady(400)
    // Bounded: far below the 30 s test timeout, whatever the load.
    expect(performance.now() - started).toBeLessThan(10_000)
    expect(readiness.ready).toBe(false)
    if (!readiness.ready) expect(readiness.reason).toMatch(/^Tor is not ready: bootstrap \d+% \(.+\)$/)
    expect(monitor.ready).toBe(false)
  })
})

describe('Tor readiness against a stand-in control port', () => {
  it('is ready at 100 %, and asking again costs no I/O', async () => {
    const standIn = await startStandInTor(100)
    const monitor = new TorReadinessMonitor(tcp(standIn.port))
    onTestFinished(() => monitor.close())
    expect((await monitor.waitReady(1000)).ready).toBe(true)
    const sent = standIn.commands.length
    expect(standIn.commands).toEqual([
      'PROTOCOLINFO 1',
      'AUTHENTICATE',
      'SETEVENTS STATUS_CLIENT',
      'GETINFO status/bootstrap-phase',
    ])
    expect(monitor.ready).toBe(true)
    expect((await monitor.waitReady(1000)).ready).toBe(true)
    expect(standIn.commands.length).toBe(sent)
  })

  it('keeps the 100 % event that comes in the same read as the GETINFO reply', async () => {
    const port = await hostilePort((socket) => {
      let buffered = ''
      socket.on('data', (chunk) => {
        buffered += chunk.toString()
        for (let end = buffered.indexOf('\r\n'); end !== -1; end = buffered.indexOf('\r\n')) {
          const line = buffered.slice(0, end)
          buffered = buffered.slice(end + 2)
          if (line.startsWith('PROTOCOLINFO')) socket.write('250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250 OK\r\n')
          else if (line.startsWith('GETINFO'))
            socket.write(
              '250-status/bootstrap-phase=NOTICE BOOTSTRAP PROGRESS=95 TAG=circuit_create SUMMARY="Establishing a Tor circuit"\r\n250 OK\r\n' +
                '650 STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"\r\n',
            )
          else socket.write('250 OK\r\n')
        }
      })
    })
    const monitor = new TorReadinessMonitor(tcp(port))
    onTestFinished(() => monitor.close())
    expect(await monitor.waitReady(3000)).toMatchObject({ ready: true })
  })

  it('wakes a waiting call on the bootstrap event, and notices a Tor restart', async () => {
    const standIn = await startStandInTor(50)
    const monitor = new TorReadinessMonitor(tcp(standIn.port))
    onTestFinished(() => monitor.close())
    const started = performance.now()
    const waiting = monitor.waitReady(10_000)
    setTimeout(() => standIn.setProgress(100), 200)
    expect((await waiting).ready).toBe(true)
    // Woken by the event, not by the 10 s bound.
    expect(performance.now() - started).toBeLessThan(8000)

    standIn.dropConnections()
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(monitor.ready).toBe(false)
    standIn.setProgress(100)
    expect((await monitor.waitReady(1000)).ready).toBe(true)
  })

  it('names an unreachable control port', async () => {
    const monitor = new TorReadinessMonitor(tcp(await freePort()))
    const readiness = await monitor.waitReady(300)
    expect(readiness).toMatchObject({
      ready: false,
      reason: expect.stringMatching(/cannot reach Tor's control port 127\.0\.0\.1:\d+: ECONNREFUSED/),
    })
  })
})

describe('Tor control client against hostile ports', () => {
  it('bounds a reply that never ends its line', async () => {
    const port = await hostilePort((socket) => socket.write('250-'.padEnd(200_000, 'x')))
    await expect(openTorControl(tcp(port))).rejects.toMatchObject({ code: 'TOR_CONTROL_PROTOCOL' })
  })

  it('bounds the time of a port that accepts and says nothing', async () => {
    const port = await hostilePort(() => undefined)
    const started = performance.now()
    await expect(openTorControl({ ...tcp(port), timeoutMs: 300 })).rejects.toMatchObject({
      code: 'TOR_CONTROL_TIMEOUT',
    })
    expect(performance.now() - started).toBeLessThan(10_000)
  })

  it('refuses malformed lines', async () => {
    const garbage = await hostilePort((socket) => socket.write('hello\r\n'))
    await expect(openTorControl(tcp(garbage))).rejects.toMatchObject({ code: 'TOR_CONTROL_PROTOCOL' })
  })

  it('never sends the cookie in plain to a port that offers only COOKIE (no proof it is Tor)', async () => {
    const dir = await tempRoot()
    const cookieFile = join(dir, 'control_auth_cookie')
    await writeFile(cookieFile, Buffer.alloc(32, 0xab))
    const received: string[] = []
    const port = await hostilePort((socket) =>
      socket.on('data', (chunk) => {
        received.push(chunk.toString())
        if (chunk.toString().startsWith('PROTOCOLINFO'))
          socket.write(`250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE COOKIEFILE="${cookieFile}"\r\n250 OK\r\n`)
        else socket.write('250 OK\r\n')
      }),
    )
    await expect(openTorControl({ ...tcp(port), cookieFile })).rejects.toMatchObject({ code: 'TOR_AUTH_UNSUPPORTED' })
    expect(received.join('')).not.toContain('abab')
  })

  it('refuses a control port that offers no cookie method', async () => {
    const port = await hostilePort((socket) =>
      socket.once('data', () => socket.write('250-PROTOCOLINFO 1\r\n250-AUTH METHODS=HASHEDPASSWORD\r\n250 OK\r\n')),
    )
    await expect(openTorControl(tcp(port))).rejects.toMatchObject({ code: 'TOR_AUTH_UNSUPPORTED' })
  })
})
