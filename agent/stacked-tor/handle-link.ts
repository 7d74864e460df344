import { constants } from 'node:os'
import type { BufferPools } from './buffers'
import type { Deadlines, Expiring } from './deadlines'
import {
  Direction,
  DOWN,
  errnoError,
  onClosed,
  onConnected,
  UP,
  type DirectionLink,
  type Owned,
} from './handle-direction'
import { connectTimeoutError, type LinkHandle, type LinkHooks, type LinkOptions, type LinkSide } from './link'
import type { RequestCallbacks, StreamHandle, StreamHandles } from './stream-handles'

/** A forwarded connection on native handles: the same contract as the Socket-based link. */
class HandleLink implements LinkHandle, Expiring, DirectionLink {
  closing = false
  deadlineAt = 0
  deadlinePrevious: Expiring | null = null
  deadlineNext: Expiring | null = null
  deadlinePending = false
  private open = 2
  private readonly gateway: StreamHandle
  private readonly up: Direction
  private readonly down: Direction

  constructor(
    readonly handles: StreamHandles,
    private readonly client: StreamHandle,
    private readonly options: LinkOptions,
    private readonly hooks: LinkHooks,
    private readonly deadlines: Deadlines,
  ) {
    this.gateway = options.target.kind === 'tcp' ? handles.newTcp() : handles.newPipe()
    this.up = new Direction(this, client, this.gateway, UP)
    this.down = new Direction(this, this.gateway, client, DOWN)
  }

  get pools(): BufferPools {
    return this.options.pools
  }

  connect(): void {
    const { target } = this.options
    const request = this.handles.newConnectRequest(target.kind) as Owned<RequestCallbacks>
    request.owner = this.down
    request.oncomplete = onConnected
    let status: number
    if (target.kind === 'unix') status = this.gateway.connect(request, target.path)
    else if (this.options.targetIsIPv6)
      status = this.gateway.connect6?.(request, target.host, target.port) ?? -constants.errno.EINVAL
    else status = this.gateway.connect(request, target.host, target.port)
    if (status < 0) return this.fail('gateway', errnoError(status, 'connect', ` ${this.targetText()}`))
    this.deadlines.add(this)
    this.client.setNoDelay?.(true)
    const started = this.up.start()
    if (started < 0) this.fail('client', errnoError(started, 'read'))
  }

  /** The gateway did not answer within connectTimeoutMs. */
  expire(): void {
    this.fail('gateway', connectTimeoutError(this.options.connectTimeoutMs))
  }

  connected(status: number): void {
    this.deadlines.delete(this)
    if (this.closing) return
    if (status < 0) return this.fail('gateway', errnoError(status, 'connect', ` ${this.targetText()}`))
    this.gateway.setNoDelay?.(true)
    this.hooks.connected()
    const started = this.down.start()
    if (started < 0) return this.fail('gateway', errnoError(started, 'read'))
    this.up.sendHeld()
  }

  private targetText(): string {
    const { target } = this.options
    return target.kind === 'unix' ? target.path : `${target.host}:${target.port}`
  }

  /**
   * A side ended its stream. When the other side has ended too and its end was passed on,
   * nothing is left to send (reading stops while a write is pending, so none is): both
   * handles close at once, and closing sends the last end of stream with it.
   */
  endOfStream(direction: Direction): void {
    const other = direction === this.up ? this.down : this.up
    if (other.ended) this.close(false)
    else direction.shutdown()
  }

  /** A direction has passed its end of stream on: with both done, the link closes. */
  directionEnded(): void {
    if (this.up.ended && this.down.ended) this.close(false)
  }

  fail(side: LinkSide, error: NodeJS.ErrnoException): void {
    // Only the first error is reported: closing is set by the close below.
    if (this.closing) return
    this.hooks.failed(side, error)
    this.close(side === 'gateway' && this.options.resetClient)
  }

  destroy(): void {
    this.close(false)
  }

  /** Closes both handles; with `reset`, the client's TCP connection is reset (RST). */
  private close(reset: boolean): void {
    if (this.closing) return
    this.closing = true
    this.deadlines.delete(this)
    this.gateway.close(onClosed)
    // A TCP handle with a shutdown pending cannot be reset, and Node would then not close it either.
    const canReset = reset && this.client.reset !== undefined && !this.down.shutting
    const resetStatus = canReset ? this.client.reset!(onClosed) : -1
    if (resetStatus < 0) this.client.close(onClosed)
  }

  closed(): void {
    if (--this.open > 0) return
    this.up.dispose()
    this.down.dispose()
    this.hooks.closed(this)
  }
}

/** Forwards an accepted native handle to the target, as `openLink` does with Sockets. */
export function openHandleLink(
  handles: StreamHandles,
  accepted: StreamHandle,
  options: LinkOptions,
  hooks: LinkHooks,
  deadlines: Deadlines,
): LinkHandle {
  const link = new HandleLink(handles, accepted, options, hooks, deadlines)
  link.connect()
  return link
}
