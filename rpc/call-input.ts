import { Readable } from 'node:stream'
import type { Socket } from 'node:net'

// Input read ahead of the handler: a caller's EOF (or close) behind it is seen even while
// the handler does not read. Only past it does the socket pause.
export const READ_AHEAD_BYTES = 256 * 1024

export interface InputBounds {
  /** Unread input waiting this long with no byte taken (paused at the bound, or behind the EOF) stalls the call. */
  readonly stallMs?: number | undefined
  readonly onStall: (ms: number) => void
}

/**
 * The caller's input as the handler reads it: fed from the socket with backpressure at
 * READ_AHEAD_BYTES, so an unread input costs at most that much memory, and the caller's
 * EOF behind less than that is seen at once.
 */
export class CallInput extends Readable {
  private ended = false
  private stall: NodeJS.Timeout | undefined

  constructor(
    private readonly socket: Socket,
    private readonly bounds: InputBounds,
  ) {
    super({ highWaterMark: 16 * 1024 })
    // A handler that never reads its input must not crash the server when the call is cut.
    this.on('error', () => undefined)
  }

  override _read(): void {
    clearTimeout(this.stall)
    this.stall = undefined
    if (!this.socket.destroyed && !this.ended) this.socket.resume()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.stall)
    callback(error)
  }

  feed(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.push(chunk)
    if (this.readableLength < READ_AHEAD_BYTES) return
    this.socket.pause()
    this.watch()
  }

  /** The caller's EOF, after what was read ahead. */
  finish(): void {
    if (this.ended) return
    this.ended = true
    this.push(null)
    this.watch()
  }

  /** Arms the stall bound while input waits unread; progress (fewer bytes waiting) re-arms it. */
  private watch(): void {
    const ms = this.bounds.stallMs
    if (ms === undefined || this.stall !== undefined || this.readableLength === 0) return
    let waiting = this.readableLength
    const check = () => {
      this.stall = undefined
      if (this.destroyed || this.readableLength === 0) return
      if (this.readableLength >= waiting) return this.bounds.onStall(ms)
      waiting = this.readableLength
      this.stall = setTimeout(check, ms)
    }
    this.stall = setTimeout(check, ms)
  }
}
