import type { Server } from 'node:net'
import type { RpcLog } from '../../rpc/call'
import { closeServer, listenOnFd, listenOnPath, stopAccepting } from '../../rpc/listen'
import type { ServiceEndpoint } from '../../rpc/server'

interface Listening {
  readonly server: Server
  readonly fromSystemd: boolean
  endpoint: ServiceEndpoint
}

/**
 * The daemon's listening sockets by name. A socket stays open across a reload; only the
 * endpoint behind it changes (calls already open finish on the old one).
 */
export class SocketTable {
  private readonly listening = new Map<string, Listening>()
  private readonly retired = new Set<ServiceEndpoint>()
  private readonly draining: ServiceEndpoint[] = []

  constructor(
    private readonly activation: ReadonlyMap<string, number>,
    private readonly log: RpcLog,
  ) {}

  /** Serves `endpoint` on the socket systemd passed under `name`, else on `path` (created). */
  async serve(name: string, endpoint: ServiceEndpoint, path: string, mode: number): Promise<void> {
    const current = this.listening.get(name)
    if (current) {
      this.retire(current.endpoint)
      current.endpoint = endpoint
      return
    }
    const fd = this.activation.get(name)
    const entry: Listening = { server: undefined as unknown as Server, fromSystemd: fd !== undefined, endpoint }
    const front: ServiceEndpoint = {
      name,
      accept: (socket) => entry.endpoint.accept(socket),
      get openCalls() {
        return entry.endpoint.openCalls
      },
      drain: (graceMs) => entry.endpoint.drain(graceMs),
      hurry: () => entry.endpoint.hurry(),
    }
    const server = fd === undefined ? await listenOnPath(front, path, { mode }) : await listenOnFd(front, fd)
    ;(entry as { server: Server }).server = server
    this.listening.set(name, entry)
    this.log.debug(`${name}: listening on ${fd === undefined ? path : `socket fd ${fd} from systemd`}`)
  }

  /** Names of sockets systemd passed that nothing serves yet. */
  unclaimedActivations(): string[] {
    return [...this.activation.keys()].filter((name) => !this.listening.has(name))
  }

  /** Stops serving `name`; a socket systemd owns keeps existing, so it gets `fallback` instead. */
  async release(name: string, fallback: ServiceEndpoint): Promise<void> {
    const entry = this.listening.get(name)
    if (!entry) return
    this.retire(entry.endpoint)
    if (entry.fromSystemd) entry.endpoint = fallback
    else {
      this.listening.delete(name)
      // The socket goes at once; the close settles when its last call has finished.
      stopAccepting(entry.server)
    }
  }

  /** Cuts now the calls that a close under way still grants time. */
  hurry(): void {
    for (const endpoint of this.draining) endpoint.hurry()
  }

  names(): string[] {
    return [...this.listening.keys()]
  }

  /** Stops accepting everywhere (created sockets are removed), then drains every call. */
  async close(graceMs: number): Promise<void> {
    const servers = [...this.listening.values()]
    this.listening.clear()
    // A socket systemd passed stays listening in systemd: calls wait there for the next start.
    const closed = servers.map((entry) => closeServer(entry.server))
    const endpoints = [...servers.map((entry) => entry.endpoint), ...this.retired]
    this.retired.clear()
    this.draining.push(...endpoints)
    await Promise.all(endpoints.map((endpoint) => endpoint.drain(graceMs)))
    await Promise.all(closed)
  }

  private retire(endpoint: ServiceEndpoint): void {
    for (const old of this.retired) if (old.openCalls === 0) this.retired.delete(old)
    if (endpoint.openCalls > 0) this.retired.add(endpoint)
  }
}
