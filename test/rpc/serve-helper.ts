import { connect } from 'node:net'
import { join } from 'node:path'
import { onTestFinished } from 'vitest'
import type { CallLimits, Handler } from '../../rpc/call'
import { DEFAULT_LIMITS, silentLog } from '../../rpc/call'
import { closeServer, listenOnPath } from '../../rpc/listen'
import { serviceEndpoint, type ServiceEndpoint } from '../../rpc/server'
import { tempRoot } from '../helpers/sandbox'

/** Serves one handler on a fresh socket in a temp directory; closed after the test. */
export async function serveOnSocket(
  name: string,
  handler: Handler,
  limits: Partial<CallLimits> = {},
): Promise<{ path: string; dir: string; endpoint: ServiceEndpoint }> {
  const dir = await tempRoot('qwa-rpc-')
  const path = join(dir, name)
  const endpoint = serviceEndpoint({ name, handler, limits: { ...DEFAULT_LIMITS, ...limits } }, silentLog)
  const server = await listenOnPath(endpoint, path, { mode: 0o660 })
  onTestFinished(async () => {
    await closeServer(server)
    await endpoint.drain(0)
  })
  return { path, dir, endpoint }
}

export interface RawResult {
  readonly output: Buffer
  /** How the connection ended for the client. */
  readonly ended: 'end' | 'error'
}

/** Connects, writes `bytes` (then half-closes unless told not to) and reads until the server closes. */
export function rawCall(
  path: string,
  bytes: string | Uint8Array,
  options: { halfClose?: boolean; timeoutMs?: number } = {},
): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path, allowHalfOpen: true })
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no close within ${options.timeoutMs ?? 10_000} ms`))
    }, options.timeoutMs ?? 10_000)
    let ended: RawResult['ended'] = 'end'
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', () => (ended = 'error'))
    socket.on('end', () => socket.end())
    socket.on('close', () => {
      clearTimeout(timer)
      resolve({ output: Buffer.concat(chunks), ended })
    })
    socket.write(bytes)
    if (options.halfClose !== false) socket.end()
  })
}

export const jsonOf = (
  result: RawResult,
): { ok: boolean; result?: unknown; error?: { code: string; message: string } } =>
  JSON.parse(result.output.toString('utf8'))
