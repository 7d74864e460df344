import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { lstat, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { connect, createServer, Socket } from 'node:net'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it, onTestFinished } from 'vitest'
import { acceptHandles } from '../../../agent/stacked-tor/accept'
import { createBufferPools } from '../../../agent/stacked-tor/buffers'
import { tcpEndpoint, unixEndpoint } from '../../../agent/stacked-tor/endpoint'
import type { ForwarderSettings } from '../../../agent/stacked-tor/forwarder'
import type { ForwarderPlan } from '../../../agent/stacked-tor/plan'
import { streamHandles } from '../../../agent/stacked-tor/stream-handles'
import { tempRoot } from '../../helpers/sandbox'
import { eventually, freePort, recordingLog, serve, sleep, startForwarder, talk } from './helpers'

const LOOPBACK = '127.0.0.1'
const tcpPlan = (port: number, targetPort: number | null, host = LOOPBACK): ForwarderPlan => ({
  name: `${host}:${port}`,
  listen: tcpEndpoint(host, port),
  target: targetPort === null ? null : tcpEndpoint(host, targetPort),
  ...(targetPort === null ? { reason: 'qubesdb has no /qubes-gateway: not listening (fail closed)' } : {}),
})
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex')

// Every behaviour holds on both ways of forwarding: Node's native handles (the default) and
// Sockets (where a Node does not have the handles in the shape needed).
const ENGINES = [
  { engine: 'native handles', handles: streamHandles() },
  { engine: 'Sockets', handles: null },
] as const

it("finds Node's native stream handles on this Node, so the first engine below is them", () => {
  expect(streamHandles()).not.toBeNull()
})

describe.each(ENGINES)('forwarding on $engine', ({ handles }) => {
  const start = (plan: ForwarderPlan, overrides: Partial<ForwarderSettings> = {}) =>
    startForwarder(plan, { handles, ...overrides })

  describe('forwarding one connection', () => {
    it('passes the client half-close on and still delivers the answer written after it', async () => {
      const target = await serve((socket) => {
        let received = ''
        socket.on('data', (chunk: Buffer) => (received += chunk.toString()))
        socket.on('end', () => socket.end(`got ${received.length} bytes: ${received}`))
      })
      const port = await freePort()
      await start(tcpPlan(port, target.port))
      const result = await talk({ port }, (socket) => socket.end('hello'))
      expect(result.error).toBeUndefined()
      expect(result.data.toString()).toBe('got 5 bytes: hello')
    })

    it("passes the gateway's half-close on and still delivers what the client sends after it", async () => {
      const late: string[] = []
      let targetEnded: () => void = () => undefined
      const ended = new Promise<void>((resolve) => (targetEnded = resolve))
      const target = await serve((socket) => {
        socket.end('banner')
        socket.on('data', (chunk: Buffer) => late.push(chunk.toString()))
        socket.on('end', targetEnded)
      })
      const port = await freePort()
      await start(tcpPlan(port, target.port))
      const result = await talk({ port }, (socket) =>
        socket.once('end', () => socket.end('sent after the gateway closed its side')),
      )
      expect(result.data.toString()).toBe('banner')
      await ended
      expect(late.join('')).toBe('sent after the gateway closed its side')
    })

    it('closes the client cleanly when the closed gateway reset its late bytes before the client ended', async () => {
      // The gateway closes both ways; the client's bytes after that draw a reset from its kernel. The
      // client's end is the last one: both handles close, and no shutdown meets the reset.
      const target = await serve((socket) => socket.end('banner', () => socket.destroy()))
      const port = await freePort()
      const forwarder = await start(tcpPlan(port, target.port))
      const client = connect({ port, host: LOOPBACK, allowHalfOpen: true })
      const chunks: Buffer[] = []
      let error: Error | undefined
      client.on('data', (chunk: Buffer) => chunks.push(chunk))
      client.on('error', (caught) => (error = caught))
      client.once('end', () => {
        client.write('late')
        setTimeout(() => client.end(), 200)
      })
      await new Promise((resolve) => client.on('close', resolve))
      expect(error).toBeUndefined()
      expect(Buffer.concat(chunks).toString()).toBe('banner')
      expect(forwarder.status().errors).toEqual({})
    })

    it('still delivers what came from a gateway before it reset, when the client ends before that is read', async () => {
      const bulk = 32 * 1024 * 1024
      let gatewaySide: Socket | undefined
      const target = await serve((socket) => {
        gatewaySide = socket
        socket.write(Buffer.alloc(bulk, 1))
      })
      const port = await freePort()
      const forwarder = await start(tcpPlan(port, target.port))
      const client = connect({ port, host: LOOPBACK, allowHalfOpen: true }).pause()
      let received = 0
      let error: NodeJS.ErrnoException | undefined
      client.on('data', (chunk: Buffer) => (received += chunk.length))
      client.on('error', (caught) => (error = caught))
      // The client does not read: the forwarder stops reading the gateway, which then resets.
      await sleep(300)
      gatewaySide?.resetAndDestroy()
      await sleep(200)
      client.end()
      await sleep(200)
      client.resume()
      await new Promise((resolve) => client.on('close', resolve))
      // Some MiB wait in the forwarder's kernel buffers; a forwarder that resets the client on its end drops them.
      expect(received).toBeGreaterThan(1024 * 1024)
      expect(forwarder.status().errors['gateway ENOTCONN']).toBeUndefined()
      // After those MiB, libuv reports the gateway's reset as an end when its last read was short,
      // and as ECONNRESET (passed on to the client) when that read filled the buffer.
      if (error !== undefined) expect(error.code).toBe('ECONNRESET')
    })

    it('holds what the client sends, end included, while the gateway has not answered, then delivers it', async () => {
      // A gateway whose accept queue is full until told: the forwarder's SYN is dropped and sent
      // again about a second later, when the gateway accepts and answers each stream in capitals.
      const gatewayPort = await freePort()
      const python = spawn('python3', [
        '-c',
        [
          'import socket,sys,threading',
          'def answer(c):',
          '  data=b""',
          '  while (chunk:=c.recv(65536)): data+=chunk',
          '  c.sendall(data.upper()); c.close()',
          's=socket.socket()',
          `s.bind(("${LOOPBACK}",${gatewayPort}))`,
          's.listen(0)',
          'print("ready",flush=True)',
          'sys.stdin.readline()',
          'while True: threading.Thread(target=answer,args=(s.accept()[0],),daemon=True).start()',
        ].join('\n'),
      ])
      onTestFinished(() => void python.kill('SIGKILL'))
      await new Promise((resolve) => python.stdout.once('data', resolve))
      const fillers = [0, 1].map(() => new Socket().connect(gatewayPort, LOOPBACK).on('error', () => undefined))
      onTestFinished(() => fillers.forEach((socket) => socket.destroy()))
      await sleep(200)
      const port = await freePort()
      const forwarder = await start(tcpPlan(port, gatewayPort))
      const result = talk({ port }, (socket) => socket.end('sent before the gateway answered'))
      await sleep(300)
      expect(forwarder.status().connections.active).toBe(1)
      python.stdin.write('accept\n')
      expect((await result).data.toString()).toBe('SENT BEFORE THE GATEWAY ANSWERED')
    })

    it('moves 48 MiB each way at once, byte for byte', async () => {
      const target = await serve((socket) => socket.pipe(socket))
      const port = await freePort()
      const pools = createBufferPools()
      const forwarder = await start(tcpPlan(port, target.port), { pools })
      const payload = randomBytes(48 * 1024 * 1024)
      const result = await talk({ port }, (socket) => socket.end(payload), 60_000)
      expect(result.data.length).toBe(payload.length)
      expect(sha(result.data)).toBe(sha(payload))
      await eventually(
        () => (forwarder.status().connections.active === 0 ? true : undefined),
        5000,
        'connection closed',
      )
      expect(forwarder.status().connections.total).toBe(1)
      // Bulk data moved on the large buffers, and they went back to their pool once closed.
      expect(pools.large.spareCount).toBeGreaterThan(0)
    })

    it('stops reading from the client while the gateway does not read (backpressure), then delivers everything', async () => {
      let targetSocket: Socket | undefined
      let received = 0
      const target = await serve((socket) => {
        targetSocket = socket
        socket.pause()
        socket.on('data', (chunk: Buffer) => (received += chunk.length))
        socket.on('end', () => socket.end())
      })
      const port = await freePort()
      await start(tcpPlan(port, target.port))
      const total = 256 * 1024 * 1024
      const chunk = Buffer.alloc(1024 * 1024, 7)
      let client: Socket | undefined
      const done = talk(
        { port },
        (socket) => {
          client = socket
          let written = 0
          const pump = () => {
            while (written < total) {
              written += chunk.length
              if (!socket.write(chunk)) return void socket.once('drain', pump)
            }
            socket.end()
          }
          pump()
        },
        120_000,
      )
      // Settled: the bytes that left the client stop growing.
      const accepted = () => (client ? client.bytesWritten - client.writableLength : 0)
      let last = -1
      await eventually(
        async () => {
          const now = accepted()
          if (now === last && now > 0) return true
          last = now
          await sleep(300)
          return undefined
        },
        20_000,
        'the client stalls',
      )
      // Kernel buffers on both sockets hold a few MiB each; a forwarder without backpressure would take all 256.
      expect(accepted()).toBeLessThan(48 * 1024 * 1024)
      expect(received).toBe(0)
      targetSocket?.resume()
      const result = await done
      expect(result.error).toBeUndefined()
      expect(received).toBe(total)
    }, 150_000)
  })

  describe('many connections', () => {
    it('leave no file descriptor and no memory behind: 10,000 opened and closed', async () => {
      setFlagsFromString('--expose-gc')
      const collect = runInNewContext('gc') as () => void
      const target = await serve((socket) => socket.pipe(socket))
      const port = await freePort()
      const forwarder = await start(tcpPlan(port, target.port))
      const round = (count: number) =>
        new Promise<void>((resolve, reject) => {
          let started = 0
          let finished = 0
          const next = () => {
            if (started === count) return
            started++
            const socket = new Socket({ allowHalfOpen: true })
            let echoed = false
            socket.on('data', () => (echoed = true))
            socket.on('error', reject)
            socket.on('close', () => {
              if (!echoed) reject(new Error('no echo'))
              if (++finished === count) resolve()
              else next()
            })
            socket.connect(port, LOOPBACK, () => socket.end('x'))
          }
          for (let i = 0; i < 16; i++) next()
        })
      const settle = async () => {
        await eventually(() => (forwarder.status().connections.active === 0 ? true : undefined), 10_000, 'all closed')
        await sleep(100)
        collect()
        return { fds: (await readdir('/proc/self/fd')).length, heap: process.memoryUsage().heapUsed }
      }
      await round(2000)
      const before = await settle()
      await round(10_000)
      const after = await settle()
      expect(after.fds).toBe(before.fds)
      // The heap moves by a few hundred KiB between collections; 100 bytes kept per connection would be 1 MiB.
      expect(after.heap - before.heap).toBeLessThan(1024 * 1024)
      expect(forwarder.status().connections).toMatchObject({ active: 0, total: 12_000, refused: 0 })
    }, 120_000)
  })

  describe('when the gateway fails', () => {
    it('resets the client at once, keeps serving, and logs each outage once', async () => {
      const gatewayPort = await freePort()
      const port = await freePort()
      const log = recordingLog()
      const forwarder = await start(tcpPlan(port, gatewayPort), { log })
      for (let i = 0; i < 20; i++) {
        const result = await talk({ port }, (socket) => socket.write('x'), 5000)
        expect(result.error?.code).toBe('ECONNRESET')
      }
      expect(forwarder.status().errors['gateway ECONNREFUSED']).toBe(20)
      expect(log.lines.filter((line) => line.includes('ECONNREFUSED'))).toHaveLength(1)

      // The gateway comes back: connections work and the next outage is logged again.
      const back = createServer((socket) => socket.end('back'))
      await new Promise<void>((resolve) => back.listen(gatewayPort, LOOPBACK, resolve))
      expect((await talk({ port }, () => undefined)).data.toString()).toBe('back')
      await new Promise((resolve) => back.close(resolve))
      expect((await talk({ port }, () => undefined, 5000)).error?.code).toBe('ECONNRESET')
      expect(log.lines.filter((line) => line.includes('ECONNREFUSED'))).toHaveLength(2)
      expect(forwarder.status().state).toBe('listening')
    })

    it('cuts a connection the gateway does not answer after connectTimeoutMs', async () => {
      // A listener that never accepts, its queue already full: further SYNs are dropped.
      const gatewayPort = await freePort()
      const python = spawn('python3', [
        '-c',
        `import socket,time\ns=socket.socket()\ns.bind(("${LOOPBACK}",${gatewayPort}))\ns.listen(0)\nprint("ready",flush=True)\ntime.sleep(60)`,
      ])
      onTestFinished(() => void python.kill('SIGKILL'))
      await new Promise((resolve) => python.stdout.once('data', resolve))
      const fillers = [0, 1].map(() => new Socket().connect(gatewayPort, LOOPBACK).on('error', () => undefined))
      onTestFinished(() => fillers.forEach((socket) => socket.destroy()))
      await sleep(200)
      const port = await freePort()
      const forwarder = await start(tcpPlan(port, gatewayPort), { connectTimeoutMs: 300 })
      const result = await talk({ port }, (socket) => socket.write('x'), 5000)
      expect(result.error?.code).toBe('ECONNRESET')
      expect(forwarder.status().errors['gateway ETIMEDOUT']).toBe(1)
    })
  })

  describe('the listener', () => {
    it('listens nowhere when the plan has no target (fail closed) and says why', async () => {
      const port = await freePort()
      const forwarder = await start(tcpPlan(port, null))
      expect(forwarder.status()).toMatchObject({
        state: 'not-listening',
        target: null,
        reason: expect.stringContaining('fail closed'),
      })
      expect((await talk({ port }, () => undefined)).error?.code).toBe('ECONNREFUSED')
    })

    it('refuses connections beyond maxConnections and accepts again once one closes', async () => {
      const target = await serve((socket) => socket.write('hi'))
      const port = await freePort()
      const forwarder = await start(tcpPlan(port, target.port), { maxConnections: 2 })
      const held = [talk({ port }, () => undefined), talk({ port }, () => undefined)]
      await eventually(() => (forwarder.status().connections.active === 2 ? true : undefined), 5000, 'two connections')
      const refused = await talk({ port }, () => undefined, 5000)
      expect(refused.data.length).toBe(0)
      expect(forwarder.status().connections).toMatchObject({ active: 2, refused: 1 })
      await forwarder.stop()
      await Promise.all(held)
    })

    it('reports a taken port, retries, and listens once the port is free', async () => {
      const port = await freePort()
      const squatter = createServer()
      await new Promise<void>((resolve) => squatter.listen(port, LOOPBACK, resolve))
      const log = recordingLog()
      const target = await serve((socket) => socket.end('through'))
      const forwarder = await start(tcpPlan(port, target.port), { retryMs: 100, log })
      expect(forwarder.status()).toMatchObject({ state: 'failed', reason: expect.stringContaining('EADDRINUSE') })
      await sleep(350)
      expect(log.lines.filter((line) => line.includes('EADDRINUSE'))).toHaveLength(1)
      await new Promise((resolve) => squatter.close(resolve))
      await eventually(() => (forwarder.status().state === 'listening' ? true : undefined), 5000, 'listening')
      expect((await talk({ port }, () => undefined)).data.toString()).toBe('through')
    })

    it('listens on [::1] and connects to a bracketed IPv6 target', async () => {
      const target = await serve((socket) => socket.end('over IPv6'), { host: '::1' }).catch(() => null)
      if (target === null) return console.warn('skipping: no IPv6 loopback here')
      const port = await freePort('::1')
      const forwarder = await start({
        name: `[::1]:${port}`,
        listen: tcpEndpoint('::1', port),
        target: tcpEndpoint('::1', target.port),
      })
      expect(forwarder.status().target).toBe(`[::1]:${target.port}`)
      expect((await talk({ port, host: '::1' }, () => undefined)).data.toString()).toBe('over IPv6')
    })
  })

  describe('a Unix socket listener', () => {
    const unixPlan = (path: string, targetPort: number): ForwarderPlan => ({
      name: path,
      listen: unixEndpoint(path),
      target: tcpEndpoint(LOOPBACK, targetPort),
      socket: { mode: 0o666 },
    })

    it('gets its mode, replaces a stale socket, forwards, and is removed on stop', async () => {
      const dir = await tempRoot()
      const path = join(dir, 'socks')
      // A socket file left by a process that is gone.
      const stale = spawn('python3', ['-c', `import socket\ns=socket.socket(socket.AF_UNIX)\ns.bind("${path}")`])
      await new Promise((resolve) => stale.on('close', resolve))
      expect((await lstat(path)).isSocket()).toBe(true)
      const target = await serve((socket) => socket.end('via unix'))
      const forwarder = await start(unixPlan(path, target.port))
      expect(forwarder.status().state).toBe('listening')
      expect((await stat(path)).mode & 0o7777).toBe(0o666)
      expect((await talk({ path }, () => undefined)).data.toString()).toBe('via unix')
      await forwarder.stop()
      await expect(lstat(path)).rejects.toMatchObject({ code: 'ENOENT' })
    })

    it('leaves a file that is not a socket alone and does not listen', async () => {
      const dir = await tempRoot()
      const path = join(dir, 'control')
      await writeFile(path, 'not a socket')
      const target = await serve((socket) => socket.end())
      const forwarder = await start(unixPlan(path, target.port))
      expect(forwarder.status()).toMatchObject({ state: 'failed', reason: expect.stringContaining('not a socket') })
      expect(await readFile(path, 'utf8')).toBe('not a socket')
    })

    it('forwards a TCP client to a gateway on a Unix socket, half-close included', async () => {
      const path = join(await tempRoot(), 'gateway')
      const gateway = createServer({ allowHalfOpen: true }, (socket) => {
        let received = ''
        socket.on('data', (chunk: Buffer) => (received += chunk.toString()))
        socket.on('end', () => socket.end(`unix gateway got ${received}`))
      })
      await new Promise<void>((resolve) => gateway.listen(path, resolve))
      onTestFinished(() => new Promise<void>((resolve) => gateway.close(() => resolve())))
      const port = await freePort()
      await start({ name: `${LOOPBACK}:${port}`, listen: tcpEndpoint(LOOPBACK, port), target: unixEndpoint(path) })
      expect((await talk({ port }, (socket) => socket.end('hello'))).data.toString()).toBe('unix gateway got hello')
    })

    it('passes a half-close from a Unix client to a TCP gateway', async () => {
      const dir = await tempRoot()
      const path = join(dir, 'control')
      const target = await serve((socket) => {
        let received = ''
        socket.on('data', (chunk: Buffer) => (received += chunk.toString()))
        socket.on('end', () => socket.end(received.toUpperCase()))
      })
      await start(unixPlan(path, target.port))
      expect((await talk({ path }, (socket) => socket.end('protocolinfo'))).data.toString()).toBe('PROTOCOLINFO')
    })
  })
})

describe('accepting connections', () => {
  it("falls back to Node's connection event when the server's internals are not there", async () => {
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true })
    await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve))
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const internals = server as unknown as { _handle: unknown }
    const listening = internals._handle
    internals._handle = null
    const accepted: Socket[] = []
    const mode = acceptHandles(
      server,
      (handle) => {
        const socket = new Socket({ handle, allowHalfOpen: true } as ConstructorParameters<typeof Socket>[0])
        accepted.push(socket)
        socket.end('wrapped once')
      },
      () => undefined,
    )
    internals._handle = listening
    expect(mode).toBe('event')
    const { port } = server.address() as { port: number }
    expect((await talk({ port }, () => undefined)).data.toString()).toBe('wrapped once')
    expect(accepted).toHaveLength(1)
  })
})
