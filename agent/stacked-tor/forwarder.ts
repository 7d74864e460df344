import { createServer, type Server } from 'node:net'
import { isIPv6 } from '../net/ip'
import type { RpcLog } from '../../rpc/call'
import { acceptHandles, type AcceptedHandle } from './accept'
import type { BufferPools } from './buffers'
import { CauseLog, causeOf } from './causes'
import { Deadlines } from './deadlines'
import { formatEndpoint } from './endpoint'
import { applyOwnership, clearSocketPath } from './filesystem'
import { openHandleLink } from './handle-link'
import { openLink, type LinkHandle, type LinkHooks, type LinkOptions } from './link'
import type { Ownership } from './owners'
import type { ForwarderPlan } from './plan'
import type { StreamHandles } from './stream-handles'

export type ForwarderState = 'starting' | 'listening' | 'not-listening' | 'failed' | 'stopped'

/** One row of `status`: where it listens, where it forwards to, and how it fares. */
export interface ForwarderStatus {
  readonly listen: string
  readonly target: string | null
  readonly state: ForwarderState
  /** Why it is not listening (fail closed, IPv6 off, the port is taken...). */
  readonly reason?: string
  /** A Unix socket whose owner could not be set says why here. */
  readonly ownership?: string
  readonly connections: { readonly active: number; readonly total: number; readonly refused: number }
  /** Failures by cause (`gateway ECONNREFUSED`, `client ECONNRESET`, `limit`...), counted. */
  readonly errors: Readonly<Record<string, number>>
}

export interface ForwarderSettings {
  readonly maxConnections: number
  readonly connectTimeoutMs: number
  readonly retryMs: number
  readonly pools: BufferPools
  /** Node's native stream handles, when this Node has them: connections are forwarded on them, else on Sockets. */
  readonly handles: StreamHandles | null
  readonly log: RpcLog
  /** Owner of Unix sockets (resolved once for the whole table). */
  readonly ownership: Ownership
}

/** A listener and the connections it forwards. Never listens when its plan has no target. */
export class Forwarder {
  private server: Server | null = null
  private state: ForwarderState = 'starting'
  private reason: string | undefined
  private ownership: string | undefined
  private retry: NodeJS.Timeout | null = null
  private readonly links = new Set<LinkHandle>()
  private total = 0
  private refused = 0
  private readonly causes: CauseLog
  /** The same for every connection of this listener (null: it has no target). */
  private readonly linkOptions: LinkOptions | null
  /** Connections waiting for the gateway to answer (native handles; Sockets time out on their own). */
  private readonly connecting: Deadlines

  constructor(
    readonly plan: ForwarderPlan,
    private readonly settings: ForwarderSettings,
  ) {
    this.causes = new CauseLog(settings.log, plan.name)
    this.connecting = new Deadlines(settings.connectTimeoutMs)
    const { target } = plan
    this.linkOptions =
      target === null
        ? null
        : {
            target,
            connectTimeoutMs: settings.connectTimeoutMs,
            pools: settings.pools,
            resetClient: plan.listen.kind === 'tcp',
            targetIsIPv6: target.kind === 'tcp' && isIPv6(target.host),
          }
  }

  /** Settles after the first attempt to listen, whatever its outcome (see status()). */
  async start(): Promise<void> {
    if (this.plan.target === null) {
      this.state = 'not-listening'
      this.reason = this.plan.reason ?? 'no target'
      this.settings.log.info(`${this.plan.name}: ${this.reason}`)
      return
    }
    await this.listen()
  }

  private async listen(): Promise<void> {
    this.retry = null
    const { listen } = this.plan
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true })
    try {
      if (listen.kind === 'unix') await clearSocketPath(listen.path)
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        const options =
          listen.kind === 'unix'
            ? { path: listen.path }
            : { host: listen.host, port: listen.port, exclusive: true, ipv6Only: isIPv6(listen.host) }
        server.listen(options, () => {
          server.off('error', reject)
          resolve()
        })
      })
    } catch (error) {
      server.close()
      if (this.state === 'stopped') return
      this.state = 'failed'
      this.reason = `cannot listen: ${causeOf(error as NodeJS.ErrnoException)}; trying again every ${this.settings.retryMs} ms`
      this.causes.report(`listen ${causeOf(error as NodeJS.ErrnoException)}`, this.reason)
      this.retry = setTimeout(() => void this.listen(), this.settings.retryMs)
      return
    }
    if (this.state === 'stopped') {
      server.close()
      return
    }
    this.server = server
    const failed = (cause: string) => this.causes.report(`accept ${cause}`, `accepting a connection failed: ${cause}`)
    acceptHandles(server, (handle) => this.accept(handle), failed)
    server.on('error', (error: NodeJS.ErrnoException) => failed(causeOf(error)))
    if (listen.kind === 'unix' && this.plan.socket) {
      const result = await applyOwnership(listen.path, this.settings.ownership, this.plan.socket.mode).catch(
        (error: NodeJS.ErrnoException) => ({
          ok: false as const,
          reason: `cannot set the mode of ${this.plan.name}: ${causeOf(error)}`,
        }),
      )
      this.ownership = result.ok ? undefined : result.reason
      // An owner unknown on this system is logged once for the whole table, a failed chown here.
      if (!result.ok && !('error' in this.settings.ownership)) this.causes.report('ownership', result.reason)
    }
    this.state = 'listening'
    this.reason = undefined
    this.settings.log.info(`${this.plan.name}: listening, forwarding to ${this.targetText()}`)
  }

  private accept(handle: AcceptedHandle): void {
    const options = this.linkOptions
    if (this.links.size >= this.settings.maxConnections || options === null) {
      this.refused++
      this.causes.report('limit', `${this.settings.maxConnections} connections open: refusing more until some close`)
      handle.close()
      return
    }
    this.total++
    const { handles } = this.settings
    const link =
      handles === null
        ? openLink(handle, options, this.hooks)
        : openHandleLink(handles, handle, options, this.hooks, this.connecting)
    this.links.add(link)
  }

  private readonly hooks: LinkHooks = {
    connected: () => this.causes.recovered('gateway '),
    // A client that resets its connection is routine (a closed tab): counted, logged at debug.
    failed: (side, error) =>
      side === 'gateway'
        ? this.causes.report(`gateway ${causeOf(error)}`, `gateway ${this.targetText()}: ${error.message}`)
        : this.causes.report(`client ${causeOf(error)}`, `client: ${error.message}`, 'debug'),
    closed: (link) => this.links.delete(link),
  }

  private targetText(): string {
    return this.plan.target === null ? 'nowhere' : formatEndpoint(this.plan.target)
  }

  status(): ForwarderStatus {
    return {
      listen: this.plan.name,
      target: this.plan.target === null ? null : formatEndpoint(this.plan.target),
      state: this.state,
      ...(this.reason === undefined ? {} : { reason: this.reason }),
      ...(this.ownership === undefined ? {} : { ownership: this.ownership }),
      connections: { active: this.links.size, total: this.total, refused: this.refused },
      errors: this.causes.snapshot(),
    }
  }

  /** Stops listening (a Unix socket file is removed) and cuts every open connection. */
  async stop(): Promise<void> {
    this.state = 'stopped'
    this.reason = undefined
    if (this.retry !== null) clearTimeout(this.retry)
    this.retry = null
    const server = this.server
    this.server = null
    for (const link of this.links) link.destroy()
    this.connecting.clear()
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
