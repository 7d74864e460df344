import { createServer, type Server, type ServerOpts } from 'node:net'

/** The name (FileDescriptorName=) of the listening socket systemd passes to the updates gate. */
export const GATE_SOCKET_NAME = 'updates-gate'

/**
 * Listening sockets systemd passed for the daemon's parts (not qrexec services). Each is
 * served by one Server made on first use and kept across reloads: closing it would close
 * the descriptor, which systemd passes only once.
 */
export class PassedSockets {
  private readonly servers = new Map<string, Promise<Server>>()

  constructor(
    private readonly descriptors: ReadonlyMap<string, number>,
    /** Whether systemd started the daemon with its sockets (it runs as its unit). */
    readonly activated: boolean,
  ) {}

  /** The server on the socket passed under `name`, or null when systemd passed none. */
  server(name: string, options: ServerOpts): Promise<Server> | null {
    const fd = this.descriptors.get(name)
    if (fd === undefined) return null
    let server = this.servers.get(name)
    if (server === undefined) {
      server = listenOn(fd, options)
      this.servers.set(name, server)
    }
    return server
  }

  async close(): Promise<void> {
    const servers = await Promise.allSettled(this.servers.values())
    this.servers.clear()
    for (const result of servers) if (result.status === 'fulfilled') result.value.close()
  }
}

function listenOn(fd: number, options: ServerOpts): Promise<Server> {
  const server = createServer(options)
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ fd }, () => {
      server.off('error', reject)
      // One bad accept (EMFILE...) must not end the daemon: the server keeps listening.
      server.on('error', () => undefined)
      // Between a part's stop and its start again (a reload) nobody takes a connection: it is closed, not left hanging.
      server.on('connection', (socket) => {
        if (server.listenerCount('connection') === 1) socket.destroy()
      })
      resolve(server)
    })
  })
}

/** No sockets passed: the daemon runs outside systemd (a shell, the tests). */
export const NO_PASSED_SOCKETS = new PassedSockets(new Map(), false)
