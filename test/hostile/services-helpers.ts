import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { onTestFinished } from 'vitest'
import { parse } from 'yaml'
import { servingGateway } from '../agent/updates-bridge/helpers'
import { SHIPPED_MANIFEST } from '../agent/updates-proxy/helpers'
import { callThroughAgent, type StandInCall } from '../stand-ins/qrexec-agent'

// A simulated sys-whonix with its real daemon, and the callers of its qubes.UpdatesProxy:
// well-behaved templates through the qrexec-agent stand-in, hostile ones on direct sockets
// (the bytes qrexec-agent would write, from any source they like).

/** qubes.UpdatesProxy's limits in the shipped manifest, some changed for a test. */
async function tableWith(limits: Readonly<Record<string, number>>): Promise<unknown> {
  const table = (
    parse(await readFile(SHIPPED_MANIFEST, 'utf8')) as { services: { table: Record<string, { limits?: object }> } }
  ).services.table
  const entry = table['qubes.UpdatesProxy'] as { limits?: object }
  entry.limits = { ...entry.limits, ...limits }
  return table
}

export async function hostileGateway(changes: Record<string, unknown>, limits: Readonly<Record<string, number>> = {}) {
  const { agent, ...qube } = await servingGateway({ ...changes, 'services.table': await tableWith(limits) })
  return {
    ...qube,
    socket: join(qube.root, 'run/qubes-rpc/qubes.UpdatesProxy'),
    /** A template's call as apt makes it: the request, and no EOF until the answer has come. */
    templateCall: (source: string, request: string, call: Partial<StandInCall> = {}) => {
      const input = new PassThrough()
      input.write(request)
      onTestFinished(() => void input.end())
      return callThroughAgent(agent, { service: 'qubes.UpdatesProxy', source, input, timeoutMs: 30_000, ...call })
    },
  }
}

export interface HostileCall {
  readonly socket: Socket
  /** Everything the service answered, once it ended the connection. */
  readonly answer: Promise<string>
  /** performance.now() when the service ended the connection. */
  closedAt(): number | null
}

/** A raw connection to a service socket that writes `bytes` and keeps its end open until the service ends its own. */
export async function hostileCall(path: string, bytes: string | Buffer): Promise<HostileCall> {
  const socket = connect({ path, allowHalfOpen: true })
  socket.on('error', () => undefined)
  onTestFinished(() => void socket.destroy())
  const chunks: Buffer[] = []
  let closedAt: number | null = null
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  const answer = new Promise<string>((resolve) => {
    const done = () => {
      closedAt ??= performance.now()
      socket.destroy()
      resolve(Buffer.concat(chunks).toString('latin1'))
    }
    socket.once('end', done).once('close', done)
  })
  await once(socket, 'connect')
  socket.write(bytes)
  return { socket, answer, closedAt: () => closedAt }
}

/** Percentile (0..100) of a list of numbers, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN
}
