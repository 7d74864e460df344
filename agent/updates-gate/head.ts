import type { Socket } from 'node:net'
import { PROBE_HEADERS } from '../updates-proxy/probe'

/** What was read of a request before deciding on it. */
export interface ReadHead {
  /** Every byte read so far: forwarded first when the request may go. */
  readonly bytes: Buffer
  /** Where the head ends (just past its blank line), or null when it did not end. */
  readonly end: number | null
  /** Why the head is not complete: the client ended, the bound of size or time. */
  readonly cut: 'ended' | 'too-large' | 'timeout' | null
}

const BLANK_LINE = Buffer.from('\r\n\r\n')

/**
 * Reads from a paused socket until the request's head has ended, bounded by `maxBytes` and
 * `timeoutMs`. The socket is paused again when it returns: bytes past the head stay unread.
 */
export function readHead(socket: Socket, maxBytes: number, timeoutMs: number): Promise<ReadHead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const finish = (end: number | null, cut: ReadHead['cut']) => {
      clearTimeout(timer)
      socket.pause()
      socket.off('data', onData).off('end', onEnd).off('error', onEnd)
      resolve({ bytes: Buffer.concat(chunks, size), end, cut })
    }
    const onEnd = () => finish(null, 'ended')
    const onData = (chunk: Buffer) => {
      const before = size
      chunks.push(chunk)
      size += chunk.length
      // Search the new bytes and the three before them (a blank line split across chunks).
      const all = Buffer.concat(chunks, size)
      const at = all.indexOf(BLANK_LINE, Math.max(0, before - 3))
      if (at !== -1 && at + 4 <= maxBytes) return finish(at + 4, null)
      if (size >= maxBytes) finish(null, 'too-large')
    }
    const timer = setTimeout(() => finish(null, 'timeout'), timeoutMs)
    socket.on('data', onData).on('end', onEnd).on('error', onEnd)
    socket.resume()
  })
}

// Each line of the head: printable ASCII only (no NUL, NBSP, VT, FF or a lone CR or LF).
const PRINTABLE_LINE = /^[\x20-\x7e]*$/

/**
 * Whether a head is the torified check's probe and nothing else: `GET` of the check's path
 * over HTTP/1.1 with exactly the probe's header lines (`Name: value`, the name in any case)
 * and the check's Host, no body, nothing after. The head must be printable ASCII with CRLF
 * line ends: the bytes forwarded are then exactly the lines compared.
 */
export function isProbeRequest(untrusted: ReadHead, checkUrl: URL): boolean {
  if (untrusted.end === null || untrusted.end !== untrusted.bytes.length) return false
  const lines = untrusted.bytes
    .subarray(0, untrusted.end - 4)
    .toString('latin1')
    .split('\r\n')
  if (!lines.every((line) => PRINTABLE_LINE.test(line))) return false
  if (lines.shift() !== `GET ${checkUrl.pathname}${checkUrl.search} HTTP/1.1`) return false
  const wanted = new Map(
    Object.entries({ ...PROBE_HEADERS, Host: checkUrl.host }).map(([name, value]) => [name.toLowerCase(), value]),
  )
  if (lines.length !== wanted.size) return false
  for (const line of lines) {
    const colon = line.indexOf(':')
    const name = line.slice(0, colon).toLowerCase()
    if (colon < 1 || line.slice(colon) !== `: ${wanted.get(name) ?? '\n'}`) return false
    wanted.delete(name)
  }
  return wanted.size === 0
}
