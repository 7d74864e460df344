import type { Readable } from 'node:stream'
import { CodedError } from './errors'

/** All of a caller's input, at most `maxBytes` (INPUT_TOO_LARGE past it). */
export async function readAll(input: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of input as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxBytes) throw new CodedError('INPUT_TOO_LARGE', `input longer than ${maxBytes} bytes`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, size)
}

/**
 * The first line of the input (without its newline), at most `maxBytes`; the end of
 * input also ends a line. Bytes after the newline stay in the stream, unread.
 */
export function readLine(input: Readable, maxBytes: number): Promise<Buffer> {
  if (input.readableEnded) return Promise.resolve(Buffer.alloc(0))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const finish = (error: Error | null) => {
      input.off('readable', onReadable).off('end', onEnd).off('error', finish)
      if (error) reject(error)
      else resolve(Buffer.concat(chunks, size))
    }
    const onEnd = () => finish(null)
    function onReadable(): void {
      let chunk: Buffer | null
      while ((chunk = input.read() as Buffer | null) !== null) {
        const newline = chunk.indexOf(0x0a)
        const part = newline === -1 ? chunk : chunk.subarray(0, newline)
        size += part.length
        if (size > maxBytes) return finish(new CodedError('INPUT_TOO_LARGE', `line longer than ${maxBytes} bytes`))
        chunks.push(part)
        if (newline !== -1) {
          if (newline + 1 < chunk.length) input.unshift(chunk.subarray(newline + 1))
          return finish(null)
        }
      }
    }
    input.on('readable', onReadable).on('end', onEnd).on('error', finish)
  })
}
