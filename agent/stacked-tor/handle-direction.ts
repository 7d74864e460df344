import { constants } from 'node:os'
import { getSystemErrorName } from 'node:util'
import { giveBack, nextPool, type BufferPools } from './buffers'
import type { LinkSide } from './link'
import type { RequestCallbacks, StreamHandle, StreamHandles } from './stream-handles'

/** What a direction needs of the connection it belongs to (handle-link.ts). */
export interface DirectionLink {
  readonly handles: StreamHandles
  readonly pools: BufferPools
  readonly closing: boolean
  fail(side: LinkSide, error: NodeJS.ErrnoException): void
  /** A side ended its stream (the direction reading it saw the end). */
  endOfStream(direction: Direction): void
  /** A direction has passed its end of stream on. */
  directionEnded(): void
  connected(status: number): void
  closed(): void
}

// Node calls a handle's `onread` and close callback with the handle as `this`, a request's
// `oncomplete` with the request: one function each for every connection, finding its
// direction on the object, instead of closures made per connection.
export type Owned<T> = T & { owner: Direction }
function onRead(this: StreamHandle): Buffer | undefined {
  return (this as Owned<StreamHandle>).owner.read()
}
function onWritten(this: RequestCallbacks, status: number): void {
  ;(this as Owned<RequestCallbacks>).owner.written(status)
}
function onShutdown(this: RequestCallbacks, status: number): void {
  ;(this as Owned<RequestCallbacks>).owner.shutdownDone(status)
}
export function onClosed(this: StreamHandle): void {
  ;(this as Owned<StreamHandle>).owner.link.closed()
}
export function onConnected(this: RequestCallbacks, status: number): void {
  ;(this as Owned<RequestCallbacks>).owner.link.connected(status)
}

export function errnoError(status: number, syscall: string, detail = ''): NodeJS.ErrnoException {
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
export const UP: Sides = { from: 'client', to: 'gateway' }
export const DOWN: Sides = { from: 'gateway', to: 'client' }

/**
 * One direction of a forwarded connection on native handles: reads land in a pooled buffer
 * and are written to the other handle as they are. A write the kernel did not take at once
 * stops reading until it completes (backpressure; the buffer stays untouched until then).
 */
export class Direction {
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
    readonly link: DirectionLink,
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
    if (this.retired !== null) giveBack(this.link.pools, this.retired)
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
    const { pools } = this.link
    const wanted = nextPool(pools, this.buffer, length)
    if (wanted === null) return undefined
    if (pending) this.retired = this.buffer
    else giveBack(pools, this.buffer)
    this.buffer = wanted.take()
    return this.buffer
  }

  /** Once both handles are closed (every write has completed or been cancelled by then). */
  dispose(): void {
    giveBack(this.link.pools, this.buffer)
    if (this.retired !== null) giveBack(this.link.pools, this.retired)
    this.retired = null
  }
}
