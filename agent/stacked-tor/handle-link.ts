import { constants } from 'node:os'
import { getSystemErrorName } from 'node:util'
import type { BufferPools } from './buffers'
import type { LinkHandle, LinkHooks, LinkOptions, LinkSide } from './link'
import type { Deadlines, Expiring } from './deadlines'
import type { RequestCallbacks, StreamHandle, StreamHandles } from './stream-handles'

// Node calls a handle's `onread` and close callback with the handle as `this`, a request's
// `oncomplete` with the request: one function each for every connection, finding its
// direction on the object, instead of closures made per connection.
type Owned<T> = T & { owner: Direction }
function onRead(this: StreamHandle): Buffer | undefined {
  return (this as Owned<StreamHandle>).owner.read()
}
function onWritten(this: RequestCallbacks, status: number): void {
  ;(this as Owned<RequestCallbacks>).owner.written(status)
}
function onShutdown(this: RequestCallbacks, status: number): void {
  ;(this as Owned<RequestCallbacks>).owner.shutdownDone(status)
}
function onClosed(this: StreamHandle): void {
  ;(this as Owned<StreamHandle>).owner.link.closed()
}
function onConnected(this: RequestCallbacks, status: number): void {
  ;(this as Owned<RequestCallbacks>).owner.link.connected(status)
}

function errnoError(status: number, syscall: string, detail = ''): NodeJS.ErrnoException {
  const code = getSystemErrorName(status)
  const error: NodeJS.ErrnoException = new Error(`${syscall} ${code}${detail}`)
  return Object.assign(error, { code, errno: status, syscall })
}

// A shutdown meets ENOTCONN when the peer has reset a connection not read meanwhile: as Node's
// sockets do, it counts as done, and reading that side delivers what came before the reset.
const NOT_CONNECTED = -constants.errno.ENOTCONN

interface Sides {
  readonly from: LinkSide
  readonly to: LinkSide
}
const UP: Sides = { from: 'client', to: 'gateway' }
const DOWN: Sides = { from: 'gateway', to: 'client' }

/**
 * One direction of a forwarded connection on native handles: reads land in a pooled buffer
 * and are written to the other handle as they are. A write the kernel did not take at once
 * stops reading until it completes (backpressure; the buffer stays untouched until then).
 */
class Direction {
  private buffer: Buffer
  /** A buffer replaced while its write was pending; returned once the write completes. */
  private retired: Buffer | null = null
  /** A write request no write is using: a write that completes at once leaves it free. */
  private spare: RequestCallbacks | null = null
  /** The other handle is being shut down for writing (its shutdown not yet complete). */
  shutting = false
  ended = false
  /** Whether the other handle is connected: the client is read from before the gateway answers. */
  private connected: boolean
  /** Read before the other handle was connected: the length waiting in the buffer, and whether the stream ended. */
  private held = 0
  private heldEnd = false

  constructor(
    readonly link: HandleLink,
    readonly from: StreamHandle,
    readonly to: StreamHandle,
    readonly sides: Sides,
  ) {
    this.buffer = link.pools.small.take()
    this.connected = sides.to === 'client'
    ;(from as Owned<StreamHandle>).owner = this
  }

  start(): number {
    this.from.useUserBuffer(this.buffer)
    this.from.onread = onRead
    return this.from.readStart()
  }

  read(): Buffer | undefined {
    const { handles } = this.link
    const result = handles.state[handles.readBytesOrError]!
    if (result > 0 && !this.connected) this.hold(result)
    else if (result > 0) return this.resize(result, this.forward(result))
    else if (result === handles.eof && !this.connected) this.heldEnd = true
    else if (result === handles.eof) this.link.endOfStream(this)
    else if (result < 0) this.link.fail(this.sides.from, errnoError(result, 'read'))
    return undefined
  }

  // What the client sent while the gateway was connecting waits (reading stops meanwhile): it
  // is sent once connected, without waiting for one more turn of the event loop.
  private hold(length: number): void {
    this.held = length
    this.from.readStop()
  }

  /** The other handle has connected: what was held is sent, and reading goes on. */
  sendHeld(): void {
    this.connected = true
    const length = this.held
    this.held = 0
    const pending = length > 0 && this.forward(length)
    if (this.link.closing) return
    if (this.heldEnd) this.link.endOfStream(this)
    else if (!pending) this.from.readStart()
  }

  /** The source's end of stream: the other handle is shut down for writing (after its pending write). */
  shutdown(): void {
    const request = this.link.handles.newShutdownRequest() as Owned<RequestCallbacks>
    request.owner = this
    request.oncomplete = onShutdown
    this.shutting = true
    const status = this.to.shutdown(request)
    if (status === NOT_CONNECTED) this.shutdownDone(0)
    else if (status < 0) this.link.fail(this.sides.to, errnoError(status, 'shutdown'))
  }

  shutdownDone(status: number): void {
    this.shutting = false
    if (this.link.closing) return
    if (status < 0 && status !== NOT_CONNECTED) return this.link.fail(this.sides.to, errnoError(status, 'shutdown'))
    this.ended = true
    this.link.directionEnded()
  }

  /** Writes what the last read put in the buffer; true while the write is pending (reading stops). */
  private forward(length: number): boolean {
    const { handles } = this.link
    const request = this.spare ?? this.newWriteRequest()
    const status = this.to.writeBuffer(request, this.buffer.subarray(0, length))
    if (status < 0) {
      this.link.fail(this.sides.to, errnoError(status, 'write'))
      return false
    }
    const pending = handles.state[handles.lastWriteWasAsync] !== 0
    this.spare = pending ? null : request
    if (pending) this.from.readStop()
    return pending
  }

  private newWriteRequest(): RequestCallbacks {
    const request = this.link.handles.newWriteRequest() as Owned<RequestCallbacks>
    request.owner = this
    request.oncomplete = onWritten
    return request
  }

  written(status: number): void {
    if (this.retired !== null) this.giveBack(this.retired)
    this.retired = null
    if (this.link.closing) return
    if (status < 0) this.link.fail(this.sides.to, errnoError(status, 'write'))
    else this.from.readStart()
  }

  /**
   * A read that filled the small buffer moves to a large one; a small read on a large one moves
   * back. The buffer returned is where the next read goes (Node takes it from `onread`).
   */
  private resize(length: number, pending: boolean): Buffer | undefined {
    if (this.link.closing) return undefined
    const { small, large } = this.link.pools
    const isLarge = this.buffer.length === large.size
    let wanted = null
    if (!isLarge && length === this.buffer.length) wanted = large
    else if (isLarge && length < small.size / 2) wanted = small
    if (wanted === null) return undefined
    if (pending) this.retired = this.buffer
    else this.giveBack(this.buffer)
    this.buffer = wanted.take()
    return this.buffer
  }

  private giveBack(buffer: Buffer): void {
    const { small, large } = this.link.pools
    ;(buffer.length === large.size ? large : small).give(buffer)
  }

  /** Once both handles are closed (every write has completed or been cancelled by then). */
  dispose(): void {
    this.giveBack(this.buffer)
    if (this.retired !== null) this.giveBack(this.retired)
    this.retired = null
  }
}

/** A forwarded connection on native handles: the same contract as the Socket-based link. */
class HandleLink implements LinkHandle, Expiring {
  closing = false
  deadlineAt = 0
  deadlinePrevious: Expiring | null = null
  deadlineNext: Expiring | null = null
  deadlinePending = false
  private failed = false
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
    else if (this.options.targetIsIPv6) status = this.gateway.connect6?.(request, target.host, target.port) ?? -22
    else status = this.gateway.connect(request, target.host, target.port)
    if (status < 0) return this.fail('gateway', errnoError(status, 'connect', ` ${this.targetText()}`))
    this.deadlines.add(this)
    this.client.setNoDelay?.(true)
    const started = this.up.start()
    if (started < 0) this.fail('client', errnoError(started, 'read'))
  }

  /** The gateway did not answer within connectTimeoutMs. */
  expire(): void {
    const error: NodeJS.ErrnoException = new Error(`no answer within ${this.options.connectTimeoutMs} ms`)
    this.fail('gateway', Object.assign(error, { code: 'ETIMEDOUT' }))
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
    if (this.closing) return
    if (!this.failed) {
      this.failed = true
      this.hooks.failed(side, error)
    }
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
