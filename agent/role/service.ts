import type { Handler } from '../../rpc/call'
import { jsonFailure, jsonLine } from '../../rpc/json'
import type { HandlerFactory } from '../services/environment'

/** whonix.Role: the role JSON of `role --json`; the answer is built once, a call only writes it. */
export const roleService: HandlerFactory = (_context, daemon): Handler => {
  const answer = jsonLine({ ok: true, result: daemon.role })
  return {
    async serve(call) {
      call.output.end(answer)
    },
    failureAnswer: (error) => jsonLine(jsonFailure(error)),
  }
}
