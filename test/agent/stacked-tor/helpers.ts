import { readFile } from 'node:fs/promises'
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { onTestFinished } from 'vitest'
import { parse, stringify } from 'yaml'
import type { RpcLog } from '../../../rpc/call'
import { createBufferPools } from '../../../agent/stacked-tor/buffers'
import { Forwarder, type ForwarderSettings } from '../../../agent/stacked-tor/forwarder'
import { streamHandles } from '../../../agent/stacked-tor/stream-handles'
import type { ForwarderPlan } from '../../../agent/stacked-tor/plan'

export const MANIFEST_FILE = fileURLToPath(new URL('../../../qubes.yaml', import.meta.url))

/** A logger that keeps every line, for assertions on what was logged (and how often). */
export function recordingLog(): RpcLog & { readonly lines: string[] } {
  const lines: string[] = []
  const at = (level: string) => (message: string) => void lines.push(`${level}: ${message}`)
  return { lines, error: at('error'), warning: at('warning'), info: at('info'), debug: at('debug') }
}

/** A TCP port nobody listens on right now (bound, then released). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** `count` distinct free ports. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports = new Set<number>()
  while (ports.size < count) ports.add(await freePort(host))
  return [...ports]
}

/** A server on an ephemeral loopback port, closed (with its connections) after the test. */
export async function serve(
  onConnection: (socket: Socket) => void,
  options: { allowHalfOpen?: boolean; host?: string } = {},
): Promise<{ server: Server; port: number }> {
  const sockets = new Set<Socket>()
  const server = createServer({ allowHalfOpen: options.allowHalfOpen ?? true }, (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    onConnection(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, options.host ?? '127.0.0.1', resolve))
  onTestFinished(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  return { server, port: (server.address() as AddressInfo).port }
}

export function settings(overrides: Partial<ForwarderSettings> = {}): ForwarderSettings {
  return {
    maxConnections: 64,
    connectTimeoutMs: 5000,
    retryMs: 200,
    pools: createBufferPools(),
    handles: streamHandles(),
    log: recordingLog(),
    ownership: { error: 'no owner in this test' },
    ...overrides,
  }
}

/** A started forwarder, stopped after the test. */
export async function startForwarder(
  plan: ForwarderPlan,
  overrides: Partial<ForwarderSettings> = {},
): Promise<Forwarder> {
  const forwarder = new Forwarder(plan, settings(overrides))
  onTestFinished(() => forwarder.stop())
  await forwarder.start()
  return forwarder
}

export interface ClientResult {
  readonly data: Buffer
  readonly error?: NodeJS.ErrnoException
}

/**
 * Connects, lets `act` write, collects everything read until the socket closes. A client
 * whose peer has ended and that has not ended itself (act did not) ends then.
 */
export function talk(
  options: { port: number; host?: string } | { path: string },
  act: (socket: Socket) => void,
  timeoutMs = 10_000,
): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const socket = connect({ ...options, allowHalfOpen: true })
    const chunks: Buffer[] = []
    let error: NodeJS.ErrnoException | undefined
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no close within ${timeoutMs} ms`))
    }, timeoutMs)
    socket.on('connect', () => act(socket))
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('end', () => setImmediate(() => socket.writableEnded || socket.end()))
    socket.on('error', (caught: NodeJS.ErrnoException) => (error = caught))
    socket.on('close', () => {
      clearTimeout(timer)
      resolve({ data: Buffer.concat(chunks), ...(error ? { error } : {}) })
    })
  })
}

interface RawListener {
  port: number
  to: number
}
/** The parts of the raw (unchecked) manifest that tests change. */
export interface RawManifest {
  stackedTor: {
    tcp: RawListener[]
    unix: { path: string; to: number; exportAs?: string }[]
    template: { flavours: string[]; tcp: RawListener[] }
    limits: Record<string, number>
    [key: string]: unknown
  }
  whonix: { addresses: Record<string, string> }
  updatesProxy: { check: { url: string; [key: string]: unknown }; [key: string]: unknown }
  [key: string]: unknown
}

/** The shipped manifest's text with `edit` applied to its parsed form: a test manifest for --config. */
export async function manifestText(edit: (raw: RawManifest) => void): Promise<string> {
  const raw = parse(await readFile(MANIFEST_FILE, 'utf8')) as RawManifest
  edit(raw)
  return stringify(raw)
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` until it returns a value (not undefined) or the time is up. */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > until) throw new Error(`${what} not reached within ${timeoutMs} ms`)
    await sleep(50)
  }
}
