import type { Socket } from 'node:net'
import type { BufferPools } from './buffers'

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
      this.release(this.retired)
      this.retired = null
    }
    if (this.waiting) {
      this.waiting = false
      this.from?.resume()
    }
  }

  private resize(length: number, pending: boolean): void {
    const { small, large } = this.pools
    const isLarge = this.buffer.length === large.size
    let wanted = null
    if (!isLarge && length === this.buffer.length) wanted = large
    else if (isLarge && length < small.size / 2) wanted = small
    if (wanted === null) return
    if (pending) this.retired = this.buffer
    else this.release(this.buffer)
    this.buffer = wanted.take()
  }

  private release(buffer: Buffer): void {
    ;(buffer.length === this.pools.large.size ? this.pools.large : this.pools.small).give(buffer)
  }

  /** Once both sockets are closed: nothing references the buffers any more. */
  dispose(): void {
    this.release(this.buffer)
    if (this.retired !== null) this.release(this.retired)
    this.retired = null
    this.from = null
    this.to = null
  }
}
