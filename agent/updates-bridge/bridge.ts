import { connect, type Socket } from 'node:net'
import type { Writable } from 'node:stream'
import { errnoCode } from '../../rpc/errors'
import type { RpcCall } from '../../rpc/call'
import type { TorReadiness } from '../tor/readiness'
import type { CodedError } from '../../rpc/errors'
import type { RefusalLog } from '../../rpc/refusal-log'
import { failedResponse, notReadyResponse } from './not-ready'
import { mayNeedTor, readRequestHead, type RequestHead } from './request-head'

export interface BridgeOptions {
  readonly host: string
  readonly port: number
  readonly connectTimeoutMs: number
  readonly maxRequestLineBytes: number
  /** Bound on the time from the call's start to the end of its request line. */
  readonly requestHeadTimeoutMs: number
  readonly notReadyHeader: string
  /** Known without I/O: Tor is ready. */
  torReady(): boolean
  /** Waits (bounded) until Tor is ready; resolves to why not, if it is not. */
  waitForTor(signal: AbortSignal): Promise<TorReadiness>
  /** The log of what callers cause, one line per kind per period (rpc/refusal-log.ts). */
  readonly note: RefusalLog
}

/**
 * qubes.UpdatesProxy: carries one call to the local updates proxy and back, both ways with
 * backpressure and half-close (the caller's EOF half-closes the proxy connection; the
 * proxy's EOF ends the answer once every byte is written). The request line must come
 * within its deadline, else the call is answered and ends. While Tor is not ready, a
 * request bound for Tor waits for it, and past the bound (or at the caller's EOF, which
 * means it has gone or will send nothing more) gets a 503 saying why.
 */
export async function bridgeCall(call: RpcCall, options: BridgeOptions): Promise<void> {
  let head = await readRequestHead(call.input, options.maxRequestLineBytes, call.signal, options.requestHeadTimeoutMs)
  if (call.signal.aborted) return
  if (head.timedOut) return endWith(call, failedResponse(`no request line within ${options.requestHeadTimeoutMs} ms`))
  if (!options.torReady()) {
    if (mayNeedTor(head.line)) {
      const waited = await waitForTorOrEnd(call, options, head)
      head = waited.head
      if (call.signal.aborted) return
      if (!waited.readiness.ready) {
        options.note('TOR_NOT_READY', 'info', `answered 503 to ${call.source}: ${waited.readiness.reason}`)
        return endWith(call, notReadyResponse(waited.readiness.reason, options.notReadyHeader))
      }
    }
  }
  if (call.signal.aborted) return
  let proxy: Socket
  try {
    proxy = await connectProxy(options, call.signal)
  } catch (error) {
    const reason = `the updates proxy ${options.host}:${options.port} is not reachable: ${errnoCode(error) ?? (error as Error).message}`
    options.note('PROXY_UNREACHABLE', 'warning', reason)
    return endWith(call, notReadyResponse(reason, options.notReadyHeader))
  }
  return relay(call, proxy, head)
}

// While Tor is awaited, up to this much more of the caller's input is read (and kept for the
// proxy) to see its end; past it reading stops and the input's end is no longer watched.
const WAIT_READ_BYTES = 64 * 1024

/**
 * Waits for Tor, but no longer than the caller: the end of its input ends the wait at once
 * (Tor is looked at once more), so a caller that has gone does not hold its call open. The
 * input read meanwhile is kept in the head, for the proxy.
 */
async function waitForTorOrEnd(
  call: RpcCall,
  options: BridgeOptions,
  head: RequestHead,
): Promise<{ head: RequestHead; readiness: TorReadiness }> {
  const { input } = call
  const wait = new AbortController()
  const chunks: Buffer[] = [head.bytes]
  let size = head.bytes.length
  let ended = head.ended
  const stop = () => wait.abort()
  const onEnd = () => {
    ended = true
    stop()
  }
  const onReadable = () => {
    let chunk: Buffer | null
    while (size < WAIT_READ_BYTES && (chunk = input.read() as Buffer | null) !== null) {
      chunks.push(chunk)
      size += chunk.length
    }
  }
  if (ended || call.signal.aborted) stop()
  else {
    input.on('readable', onReadable).on('end', onEnd).on('error', stop)
    call.signal.addEventListener('abort', stop, { once: true })
  }
  try {
    const readiness = await options.waitForTor(wait.signal)
    return { head: { bytes: Buffer.concat(chunks, size), line: head.line, ended }, readiness }
  } finally {
    input.off('readable', onReadable).off('end', onEnd).off('error', stop)
    call.signal.removeEventListener('abort', stop)
  }
}

/** The HTTP answer for a call the server failed (a limit, shutdown): never an empty reply. */
export function bridgeFailureAnswer(error: CodedError, notReadyHeader: string): string {
  const reason = `${FAILURE_REASONS[error.code] ?? 'the call failed'}: ${error.message}`
  // Only a failure that passes when tried again later is said as "not ready" (the check retries on it).
  return RETRY_CODES.has(error.code) ? notReadyResponse(reason, notReadyHeader) : failedResponse(reason)
}

const FAILURE_REASONS: Readonly<Record<string, string>> = {
  BUSY: 'too many calls at once',
  SHUTTING_DOWN: 'the updates service is shutting down',
  CALL_TIMEOUT: 'the call timed out',
  INPUT_TOO_LARGE: 'the request is too large',
  DESCRIPTOR_INVALID: 'the qrexec call was malformed',
  DESCRIPTOR_TIMEOUT: 'the qrexec call was malformed',
  INTERNAL: 'internal error',
}
const RETRY_CODES = new Set(['BUSY', 'SHUTTING_DOWN', 'CALL_TIMEOUT'])

function endWith(call: RpcCall, answer: string): Promise<void> {
  return new Promise((resolve) => call.output.end(answer, () => resolve()))
}

function connectProxy(options: BridgeOptions, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: options.host, port: options.port, allowHalfOpen: true, noDelay: true })
    const fail = (error: Error) => {
      clearTimeout(timer)
      signal.removeEventListener('abort', abort)
      socket.destroy()
      reject(error)
    }
    const abort = () => fail(new Error('the call was cut'))
    const timer = setTimeout(
      () =>
        fail(Object.assign(new Error(`no connection within ${options.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' })),
      options.connectTimeoutMs,
    )
    socket.once('error', fail)
    signal.addEventListener('abort', abort, { once: true })
    socket.once('connect', () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', abort)
      socket.off('error', fail)
      resolve(socket)
    })
  })
}

/**
 * Both directions until the proxy's answer has ended and is flushed to the caller. Like
 * socat, the proxy's EOF ends the call: what the caller still sends after it has no reader.
 * A template's caller ends its input only once the answer is complete: after the caller's
 * EOF, a proxy silent for the call's input stall bound ends the call (the caller has gone).
 */
function relay(call: RpcCall, proxy: Socket, head: RequestHead): Promise<void> {
  const { input, output } = call
  return new Promise((resolve) => {
    let answerEnded = false
    let outputDone = false
    let silence: NodeJS.Timeout | undefined
    const silenceMs = call.limits.inputStallTimeoutMs
    const watchSilence = () => {
      clearTimeout(silence)
      if (silenceMs !== undefined) silence = setTimeout(cut, silenceMs)
    }
    const settle = () => {
      if (!(answerEnded && outputDone)) return
      clearTimeout(silence)
      call.signal.removeEventListener('abort', cut)
      input.unpipe(proxy)
      proxy.destroy()
      resolve()
    }
    const cut = () => {
      answerEnded = true
      outputDone = true
      settle()
    }
    call.signal.addEventListener('abort', cut, { once: true })
    proxy.on('error', (error: NodeJS.ErrnoException) =>
      call.log.debug(`proxy connection: ${error.code ?? error.message}`),
    )
    proxy.on('close', () => {
      answerEnded = true
      // A proxy that reset: what it sent is delivered, then the answer ends.
      if (!output.writableEnded) output.end()
      settle()
    })
    proxy.on('end', () => {
      answerEnded = true
      output.end()
      settle()
    })
    output.on('finish', () => {
      outputDone = true
      settle()
    })
    output.on('error', cut)
    input.on('error', cut)
    forward(proxy, output)
    proxy.on('data', () => silence !== undefined && watchSilence())
    if (head.ended) {
      proxy.end(head.bytes)
      watchSilence()
    } else {
      input.once('end', watchSilence)
      if (head.bytes.length > 0) proxy.write(head.bytes)
      input.pipe(proxy)
    }
  })
}

// Downloads: up to this much may wait in the caller's socket before the proxy is paused.
// A stream's default (16 KiB) pauses after every 64 KiB read, an event-loop turn each time.
const ANSWER_BUFFER_BYTES = 1024 * 1024

/** proxy -> caller with backpressure at ANSWER_BUFFER_BYTES; the caller's EOF is sent by the 'end' handler. */
function forward(proxy: Socket, output: Writable): void {
  const resume = () => proxy.resume()
  output.on('drain', resume)
  proxy.on('data', (chunk: Buffer) => {
    output.write(chunk)
    if (output.writableLength > ANSWER_BUFFER_BYTES) proxy.pause()
  })
}
