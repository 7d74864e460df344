import type { Socket } from 'node:net'
import { giveBack, nextPool, type BufferPools } from './buffers'

/**
 * One direction of a forwarded connection. Node reads straight into this pump's buffer
 * (the socket's `onread` option); the bytes are written to the other socket as they are.
 * While a write is not flushed, reading stops (backpressure, and the buffer stays
 * untouched until the kernel has copied it). The buffer grows when a read fills it and
 * shrinks again when the traffic gets small.
 */
export class Pump {
  private buffer: Buffer
  /** A buffer replaced while its write was still pending; returned once flushed. */
  private retired: Buffer | null = null
  private waiting = false
  private from: Socket | null = null
  private to: Socket | null = null

  constructor(private readonly pools: BufferPools) {
    this.buffer = pools.small.take()
  }

  connect(from: Socket, to: Socket): void {
    this.from = from
    this.to = to
  }

  /** For `onread.buffer`: where the next read goes. */
  readonly next = (): Buffer => this.buffer

  /** For `onread.callback`: false pauses reading until the write is flushed. */
  readonly received = (length: number, buffer: Buffer): boolean => {
    const to = this.to
    if (to === null || to.destroyed) return false
    to.write(buffer.subarray(0, length), this.flushed)
    const pending = to.writableLength > 0
    this.resize(length, pending)
    if (pending) this.waiting = true
    return !pending
  }

  private readonly flushed = (): void => {
    if (this.retired !== null) {
      giveBack(this.pools, this.retired)
      this.retired = null
    }
    if (this.waiting) {
      this.waiting = false
      this.from?.resume()
    }
  }

  private resize(length: number, pending: boolean): void {
    const wanted = nextPool(this.pools, this.buffer, length)
    if (wanted === null) return
    if (pending) this.retired = this.buffer
    else giveBack(this.pools, this.buffer)
    this.buffer = wanted.take()
  }

  /** Once both sockets are closed: nothing references the buffers any more. */
  dispose(): void {
    giveBack(this.pools, this.buffer)
    if (this.retired !== null) giveBack(this.pools, this.retired)
    this.retired = null
    this.from = null
    this.to = null
  }
}
