import { connect } from 'node:net'
import { formatDescriptor, parseDescriptor, type Descriptor } from './descriptor'
import { CodedError } from './errors'

export interface SocketCallOptions {
  /** Sent after the descriptor, then the write side is half-closed. */
  readonly input?: string | Uint8Array
  readonly timeoutMs: number
  readonly maxOutputBytes: number
}

/**
 * Calls a local socket service as qrexec-agent does: the descriptor and a NUL, the input,
 * a half-close; the answer is everything the service writes until it closes.
 */
export function callSocketService(
  socketPath: string,
  descriptor: Descriptor,
  options: SocketCallOptions,
): Promise<Buffer> {
  // The descriptor goes out only in a form the service side would accept.
  const text = formatDescriptor(parseDescriptor(Buffer.from(formatDescriptor(descriptor))))
  return new Promise((resolve, reject) => {
    const socket = connect({ path: socketPath, allowHalfOpen: true })
    const chunks: Buffer[] = []
    let size = 0
    const fail = (error: CodedError) => {
      socket.destroy()
      reject(error)
    }
    const timer = setTimeout(
      () =>
        fail(
          new CodedError(
            'RPC_TIMEOUT',
            `${descriptor.service}: no complete answer from ${socketPath} within ${options.timeoutMs} ms`,
          ),
        ),
      options.timeoutMs,
    )
    socket.on('connect', () => {
      socket.write(`${text}\0`)
      socket.end(options.input ?? '')
    })
    socket.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > options.maxOutputBytes)
        fail(
          new CodedError(
            'RPC_ANSWER_TOO_LARGE',
            `${descriptor.service}: answer longer than ${options.maxOutputBytes} bytes`,
          ),
        )
      else chunks.push(chunk)
    })
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      const code = error.code === 'ENOENT' || error.code === 'ECONNREFUSED' ? 'RPC_SERVICE_UNAVAILABLE' : 'RPC_FAILED'
      fail(
        new CodedError(code, `${descriptor.service}: cannot call ${socketPath}: ${error.code ?? error.message}`, {
          cause: error,
        }),
      )
    })
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(Buffer.concat(chunks, size))
    })
  })
}
