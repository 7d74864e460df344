import type { Socket } from 'node:net'
import type { Handler } from './call'
import type { CodedError } from './errors'

// A caller that does not read its answer does not keep a cut connection open.
export const FLUSH_BOUND_MS = 1000
const DISCARD_BYTES = 64 * 1024

/** Answers a failure (when the handler has an answer for it) and closes the connection. */
export function refuse(socket: Socket, handler: Handler, error: CodedError): void {
  socket.on('error', () => undefined)
  const answer = handler.failureAnswer?.(error)
  closeAfter(socket, answer)
}

export function closeAfter(socket: Socket, answer: string | Uint8Array | undefined): void {
  if (socket.destroyed) return
  // A little more input is read and dropped, so a caller that has finished writing is seen
  // to close at once; past that reading stops, so a caller still writing blocks (rather than
  // getting EPIPE before it has read the answer) until the bound closes the connection.
  socket.removeAllListeners('data')
  let discarded = 0
  socket.on('data', (chunk: Buffer) => {
    discarded += chunk.length
    if (discarded > DISCARD_BYTES) socket.pause()
  })
  socket.resume()
  const bound = setTimeout(() => socket.destroy(), FLUSH_BOUND_MS)
  socket.once('close', () => clearTimeout(bound))
  if (answer === undefined || socket.writableEnded) {
    if (!socket.writableEnded) socket.end()
    return
  }
  socket.end(answer)
}
