import { Readable } from 'node:stream'
import type { Socket } from 'node:net'

/**
 * The caller's input as the handler reads it: fed from the socket with backpressure
 * (the socket pauses while the handler does not read), so an unread input costs at
 * most one highWaterMark of memory.
 */
export class CallInput extends Readable {
  constructor(private readonly socket: Socket) {
    super({ highWaterMark: 16 * 1024 })
    // A handler that never reads its input must not crash the server when the call is cut.
    this.on('error', () => undefined)
  }

  override _read(): void {
    if (!this.socket.destroyed) this.socket.resume()
  }

  feed(chunk: Buffer): void {
    if (chunk.length > 0 && !this.push(chunk)) this.socket.pause()
  }
}
