import type { Readable, Writable } from 'node:stream'
import type { CodedError } from './errors'
import type { Descriptor, RequestedTarget } from './descriptor'

/** Bounds on one call of a service; the server enforces all of them. */
export interface CallLimits {
  /** Time from connection to the descriptor's NUL. */
  readonly descriptorTimeoutMs: number
  /** Time from connection to the end of the call; past it the call is cut. */
  readonly totalTimeoutMs: number
  /** Bytes of caller input after the descriptor. */
  readonly maxInputBytes: number
  /** Calls of this service open at once; one more is refused. */
  readonly maxConcurrent: number
  /** Calls open at once from one source qube (its share); default: a quarter of maxConcurrent. */
  readonly maxPerSource?: number
  /**
   * A caller's unread input waiting this long with no byte taken, while reading is stopped
   * at its bound or behind the caller's EOF, cuts the call. Absent: no such bound.
   */
  readonly inputStallTimeoutMs?: number
}

/** The share of one source: a few qubes calling at once cannot take every slot. */
export const perSourceLimit = (limits: CallLimits): number =>
  limits.maxPerSource ?? Math.max(1, Math.ceil(limits.maxConcurrent / 4))

export const DEFAULT_LIMITS: CallLimits = {
  descriptorTimeoutMs: 5_000,
  totalTimeoutMs: 30_000,
  maxInputBytes: 64 * 1024,
  maxConcurrent: 32,
}

/** The minimal logger the library writes to (the agent maps it to journald priorities). */
export interface RpcLog {
  error(message: string): void
  warning(message: string): void
  info(message: string): void
  debug(message: string): void
}

export const silentLog: RpcLog = { error() {}, warning() {}, info() {}, debug() {} }

/** One call of a service, as a handler sees it. Everything in it is untrusted input. */
export interface RpcCall {
  /** The service served (the socket's), equal to `descriptor.service`. */
  readonly service: string
  /** `null`: no argument (`SERVICE`); `''`: `SERVICE+`. Validated only against the policy charset. */
  readonly argument: string | null
  /** The calling qube (`dom0` for dom0). */
  readonly source: string
  /** The target the caller named, only for calls to dom0; `null` when it named this qube. */
  readonly target: RequestedTarget | null
  readonly descriptor: Descriptor
  /**
   * The caller's input, bounded by `limits.maxInputBytes` (past it the stream errors with
   * INPUT_TOO_LARGE and the call is cut). Ends when the caller half-closes.
   */
  readonly input: Readable
  /** The answer. `end()` half-closes: the caller's stdout ends, its input may still flow. */
  readonly output: Writable
  /** Aborted when the call is cut (time limit, input limit, caller gone, shutdown). */
  readonly signal: AbortSignal
  readonly limits: CallLimits
  readonly log: RpcLog
  /**
   * Tells the transport the call failed after the handler answered the failure itself: an
   * executable service then exits 1 (a socket service cannot: its caller always gets 0).
   */
  reportFailure?(error: CodedError): void
}

/** A call of `descriptor`: the transport gives the streams, the signal and the limits. */
export function callOf(
  descriptor: Descriptor,
  transport: Omit<RpcCall, 'service' | 'argument' | 'source' | 'target' | 'descriptor'>,
): RpcCall {
  const { service, argument, source, target } = descriptor
  return { service, argument, source, target, descriptor, ...transport }
}

/** What serves one service. Create once, serve many calls: per-call work belongs in `serve`. */
export interface Handler {
  /**
   * Serves one call: read `call.input`, write to `call.output`. The server ends the output
   * when the promise settles, if the handler did not.
   */
  serve(call: RpcCall): Promise<void>
  /**
   * The answer for a call that failed outside the handler's own answer (a limit broken,
   * a bad descriptor, `serve` threw before writing). The caller's exit code is always 0,
   * so the failure must be said in the output. Without it the connection just closes.
   */
  failureAnswer?(error: CodedError): string | Uint8Array
}
