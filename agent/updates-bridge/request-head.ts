import type { Readable } from 'node:stream'

/** The bytes read from the caller before deciding, and what they say. */
export interface RequestHead {
  /** Everything read so far (the request line and maybe more): it goes to the proxy first. */
  readonly bytes: Buffer
  /** The first line without its line end, or null when none ended within the bound. */
  readonly line: string | null
  /** The caller's input ended while reading. */
  readonly ended: boolean
  /** No line ended within the deadline. */
  readonly timedOut?: boolean
}

/**
 * Reads from the caller until the first line ends, `maxBytes` are read, the input ends or
 * `timeoutMs` has passed. Nothing is lost: every byte read is in `bytes`, the rest stays in the stream.
 */
export function readRequestHead(
  input: Readable,
  maxBytes: number,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<RequestHead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const finish = (line: string | null, ended: boolean, timedOut = false) => {
      clearTimeout(timer)
      input.off('readable', onReadable).off('end', onEnd).off('error', onEnd)
      signal.removeEventListener('abort', onEnd)
      resolve({ bytes: Buffer.concat(chunks, size), line, ended, ...(timedOut ? { timedOut } : {}) })
    }
    const onEnd = () => finish(null, true)
    function onReadable(): void {
      let chunk: Buffer | null
      while ((chunk = input.read() as Buffer | null) !== null) {
        const lineEnd = chunk.indexOf(0x0a)
        const before = size
        chunks.push(chunk)
        size += chunk.length
        if (lineEnd !== -1 && before + lineEnd <= maxBytes) {
          const bytes = Buffer.concat(chunks, size)
          return finish(
            bytes
              .subarray(0, before + lineEnd)
              .toString('latin1')
              .replace(/\r$/, ''),
            false,
          )
        }
        if (size >= maxBytes) return finish(null, false)
      }
    }
    if (input.readableEnded || signal.aborted)
      return resolve({ bytes: Buffer.alloc(0), line: null, ended: input.readableEnded })
    const timer = setTimeout(() => finish(null, false, true), timeoutMs)
    input.on('readable', onReadable).on('end', onEnd).on('error', onEnd)
    signal.addEventListener('abort', onEnd, { once: true })
  })
}

/**
 * Whether a request may go out through Tor. Only an origin-form request (`GET /path`) is
 * answered by the proxy itself (the templates' check is one): it needs no Tor. Anything
 * else (absolute URL, CONNECT, unreadable) is treated as bound for Tor.
 */
export function mayNeedTor(line: string | null): boolean {
  if (line === null) return true
  const match = /^[A-Z]{1,20} (\S+) HTTP\/\d\.\d$/.exec(line)
  return !(match && match[1]?.startsWith('/'))
}
