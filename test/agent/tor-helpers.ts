import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, stat, writeFile } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { dirname, join } from 'node:path'
import { onTestFinished } from 'vitest'
import { freePort, waitUntil } from './updates-proxy-helpers'

export interface RealTor {
  readonly process: ChildProcess
  readonly controlPort: number
  readonly controlSocket: string
  readonly cookieFile: string
  readonly log: () => string
  stop(): Promise<void>
}

/**
 * A real tor (Debian's) in a temporary data directory that never reaches the network
 * (DisableNetwork 1): its bootstrap never completes. Control port and socket with cookie
 * authentication, as on a Whonix-Gateway.
 */
export async function startTor(program: string, dir: string, where: { controlSocket?: string; cookieFile?: string } = {}): Promise<RealTor> {
  const dataDir = join(dir, 'tor-data')
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const controlSocket = where.controlSocket ?? join(dataDir, 'control')
  const cookieFile = where.cookieFile ?? join(dataDir, 'control.authcookie')
  // Tor wants the socket's directory private; the cookie's must exist.
  await mkdir(dirname(controlSocket), { recursive: true, mode: 0o700 })
  await mkdir(dirname(cookieFile), { recursive: true, mode: 0o700 })
  for (let attempt = 0; ; attempt++) {
    const controlPort = await freePort()
    const torrc = join(dir, 'torrc')
    await writeFile(
      torrc,
      [
        `DataDirectory ${dataDir}`,
        'DisableNetwork 1',
        'SocksPort 0',
        `ControlPort 127.0.0.1:${controlPort}`,
        `ControlSocket ${controlSocket}`,
        'CookieAuthentication 1',
        `CookieAuthFile ${cookieFile}`,
        'Log notice stdout',
        '',
      ].join('\n'),
    )
    const child = spawn(program, ['-f', torrc, '--defaults-torrc', '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let log = ''
    child.stdout?.setEncoding('utf8').on('data', (text: string) => (log += text))
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (log += text))
    const exited = once(child, 'exit').then(() => false)
    const stop = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGKILL')
      await exited
    }
    onTestFinished(stop)
    const ready = waitUntil('tor to open its control port', async () => (await stat(cookieFile).then((info) => info.size === 32, () => false)) && /Opened Control listener.*\/control/.test(log), 15_000, 20).then(() => true)
    if (await Promise.race([ready, exited])) return { process: child, controlPort, controlSocket, cookieFile, log: () => log, stop }
    if (attempt >= 2) throw new Error(`tor did not start: ${log}`)
  }
}

export interface StandInTor {
  readonly port: number
  readonly commands: string[]
  /** Drops every controller's connection, as a restarting Tor does. */
  dropConnections(): void
  /** Sets the bootstrap progress and tells subscribed controllers (a STATUS_CLIENT event). */
  setProgress(progress: number): void
  close(): Promise<void>
}

/**
 * A stand-in for Tor's control port that reports a chosen bootstrap progress: enough of
 * the control protocol (PROTOCOLINFO with NULL authentication, AUTHENTICATE, SETEVENTS,
 * GETINFO status/bootstrap-phase) to drive the ready path, which the real tor in a test
 * (no network) never reaches.
 */
export async function startStandInTor(initialProgress: number): Promise<StandInTor> {
  let progress = initialProgress
  const commands: string[] = []
  const subscribed = new Set<Socket>()
  const all = new Set<Socket>()
  const phase = () => `NOTICE BOOTSTRAP PROGRESS=${progress} TAG=${progress === 100 ? 'done' : 'loading_descriptors'} SUMMARY="${progress === 100 ? 'Done' : 'Loading relay descriptors'}"`
  const server: Server = createServer((socket) => {
    all.add(socket)
    socket.on('error', () => undefined)
    let buffer = ''
    socket.setEncoding('utf8').on('data', (text: string) => {
      buffer += text
      let end: number
      while ((end = buffer.indexOf('\r\n')) !== -1) {
        const line = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        commands.push(line)
        if (line === 'PROTOCOLINFO 1') socket.write('250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250-VERSION Tor="0.4.9.0-stand-in"\r\n250 OK\r\n')
        else if (line === 'AUTHENTICATE') socket.write('250 OK\r\n')
        else if (line === 'SETEVENTS STATUS_CLIENT') {
          subscribed.add(socket)
          socket.write('250 OK\r\n')
        } else if (line === 'GETINFO status/bootstrap-phase') socket.write(`250-status/bootstrap-phase=${phase()}\r\n250 OK\r\n`)
        else socket.write('510 Unrecognized command\r\n')
      }
    })
    socket.on('close', () => (subscribed.delete(socket), all.delete(socket)))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of all) socket.destroy()
      if (!server.listening) return resolve()
      server.close(() => resolve())
    })
  onTestFinished(close)
  return {
    port: (server.address() as { port: number }).port,
    commands,
    setProgress(next) {
      progress = next
      for (const socket of subscribed) socket.write(`650 STATUS_CLIENT ${phase()}\r\n`)
    },
    dropConnections() {
      for (const socket of all) socket.destroy()
    },
    close,
  }
}
