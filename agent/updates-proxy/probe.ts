import { request, type IncomingMessage } from 'node:http'

export interface ProbeLimits {
  /** From sending the request to the response's headers. */
  readonly responseTimeoutMs: number
  /** From the headers to the end of the body (or to the proof). */
  readonly bodyTimeoutMs: number
  /** Body bytes read at most; the rest is never read. */
  readonly maxBodyBytes: number
}

/** What one GET of the proxy URL gave. */
export type ProbeResult =
  | {
      readonly kind: 'failed'
      /** Nothing listens at all (the cheap case, polled faster). */
      readonly refused: boolean
      readonly error: string
    }
  | {
      readonly kind: 'answer'
      readonly status: number
      readonly proof: boolean
      /** Our gateway service's "not ready yet" header, when present: a transient answer. */
      readonly notReady: string | null
      readonly body: Buffer
      /** The body went on past `maxBodyBytes`. */
      readonly truncated: boolean
    }

const MAX_HEADER_VALUE = 300

/** The probe's own headers (Node adds Host): the updates gate forwards exactly this request. */
export const PROBE_HEADERS: Readonly<Record<string, string>> = { Accept: 'text/html', Connection: 'close' }

function describeError(error: NodeJS.ErrnoException): string {
  if (error.code === 'ECONNREFUSED') return 'connection refused (nothing listens)'
  if (error.code === 'ECONNRESET') return 'connection reset'
  return error.code ? `${error.code} (${error.message})` : error.message
}

/**
 * One HTTP GET of the updates proxy's own URL (docs/updates-proxy.md). The body is read until the
 * proof line appears, it ends, or a bound is hit: size and time are both bounded.
 */
export function probeProxy(
  url: URL,
  proofLine: string,
  notReadyHeader: string,
  limits: ProbeLimits,
): Promise<ProbeResult> {
  const proof = Buffer.from(proofLine)
  return new Promise((resolve) => {
    let settled = false
    let timer: NodeJS.Timeout | undefined
    const finish = (result: ProbeResult) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      client.destroy()
      resolve(result)
    }
    const fail = (error: string, refused = false) => finish({ kind: 'failed', refused, error })
    const client = request(url, { method: 'GET', agent: false, headers: PROBE_HEADERS })
    timer = setTimeout(() => fail(`no response within ${limits.responseTimeoutMs} ms`), limits.responseTimeoutMs)
    client.on('error', (error: NodeJS.ErrnoException) => fail(describeError(error), error.code === 'ECONNREFUSED'))
    client.on('response', (response: IncomingMessage) => {
      clearTimeout(timer)
      timer = setTimeout(
        () => fail(`HTTP ${response.statusCode}: the body did not end within ${limits.bodyTimeoutMs} ms`),
        limits.bodyTimeoutMs,
      )
      const header = response.headers[notReadyHeader.toLowerCase()]
      const notReady = typeof header === 'string' ? header.slice(0, MAX_HEADER_VALUE) : null
      const chunks: Buffer[] = []
      let size = 0
      const answer = (body: Buffer, truncated: boolean) =>
        finish({
          kind: 'answer',
          status: response.statusCode ?? 0,
          proof: body.includes(proof),
          notReady,
          body,
          truncated,
        })
      response.on('data', (chunk: Buffer) => {
        const room = limits.maxBodyBytes - size
        chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk)
        size += Math.min(chunk.length, room)
        // Search only the new bytes plus an overlap the length of the proof line.
        const body = Buffer.concat(chunks, size)
        if (body.includes(proof, Math.max(0, size - chunk.length - proof.length))) answer(body, false)
        else if (chunk.length > room) answer(body, true)
      })
      response.on('end', () => answer(Buffer.concat(chunks, size), false))
      response.on('close', () => {
        if (!response.complete) fail(`HTTP ${response.statusCode}: the connection closed in the middle of the body`)
      })
      response.on('error', (error: NodeJS.ErrnoException) => fail(describeError(error)))
    })
    client.end()
  })
}
