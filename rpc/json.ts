import type { Handler, RpcCall } from './call'
import { CodedError } from './errors'

/** The wire form of a JSON service's answer: one line of JSON. */
export type JsonAnswer<T = unknown> = { ok: true; result: T } | { ok: false; error: { code: string; message: string } }

export const INTERNAL_ERROR = {
  code: 'INTERNAL',
  message: "internal error in the service (a bug; see the serving qube's log)",
} as const

export function jsonLine(answer: JsonAnswer): string {
  return `${JSON.stringify(answer)}\n`
}

export function jsonFailure(error: unknown): JsonAnswer<never> {
  return error instanceof CodedError
    ? { ok: false, error: { code: error.code, message: error.message } }
    : { ok: false, error: { ...INTERNAL_ERROR } }
}

/** Rejects with the signal's reason once it aborts: a cut call settles even if `compute` does not listen. */
function abortOf(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason)
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
}

/**
 * Turns `async (call) => value` into a handler answering `{"ok":true,"result":value}` or
 * `{"ok":false,"error":{"code","message"}}`. A CodedError keeps its code and message; any
 * other error is a bug: the caller gets INTERNAL and a generic message, the log gets the stack.
 */
export function jsonHandler<T>(compute: (call: RpcCall) => Promise<T> | T): Handler {
  return {
    async serve(call) {
      let answer: JsonAnswer
      try {
        answer = { ok: true, result: await Promise.race([compute(call), abortOf(call.signal)]) }
      } catch (error) {
        if (!(error instanceof CodedError))
          call.log.error(`${call.service}: bug: ${(error as Error)?.stack ?? String(error)}`)
        answer = jsonFailure(error)
        call.reportFailure?.(
          error instanceof CodedError ? error : new CodedError(INTERNAL_ERROR.code, INTERNAL_ERROR.message),
        )
      }
      // A cut call may have been answered by the server already.
      if (!call.output.writableEnded) call.output.end(jsonLine(answer))
    },
    failureAnswer: (error) => jsonLine(jsonFailure(error)),
  }
}
