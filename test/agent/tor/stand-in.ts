import { once } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'

// No vitest here: the benchmark uses the stand-in too.

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
export async function createStandInTor(initialProgress: number): Promise<StandInTor> {
  let progress = initialProgress
  const commands: string[] = []
  const subscribed = new Set<Socket>()
  const all = new Set<Socket>()
  const phase = () =>
    `NOTICE BOOTSTRAP PROGRESS=${progress} TAG=${progress === 100 ? 'done' : 'loading_descriptors'} SUMMARY="${progress === 100 ? 'Done' : 'Loading relay descriptors'}"`
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
        if (line === 'PROTOCOLINFO 1')
          socket.write(
            '250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250-VERSION Tor="0.4.9.0-stand-in"\r\n250 OK\r\n',
          )
        else if (line === 'AUTHENTICATE') socket.write('250 OK\r\n')
        else if (line === 'SETEVENTS STATUS_CLIENT') {
          subscribed.add(socket)
          socket.write('250 OK\r\n')
        } else if (line === 'GETINFO status/bootstrap-phase')
          socket.write(`250-status/bootstrap-phase=${phase()}\r\n250 OK\r\n`)
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
