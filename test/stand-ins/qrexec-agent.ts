import { spawn } from 'node:child_process'
import { lstat, readFile, readlink, stat } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { Readable } from 'node:stream'

/**
 * A stand-in for the service side of qrexec-agent, written from docs/qubes-facts.md (qrexec)
 * (not from our rpc/ code): service lookup over directories, socket vs executable vs
 * /dev/tcp link, the descriptor forms, rpc-config options, half-close and exit codes.
 * Only the vchan to the caller is left out: the caller's stdin/stdout are in-process.
 */
export interface StandInConfig {
  /** Lookup order, e.g. R4.3: [/run/qubes-rpc, /usr/local/etc/qubes-rpc, /etc/qubes-rpc]. */
  readonly serviceDirs: readonly string[]
  readonly rpcConfigDirs?: readonly string[]
  /** The environment the agent runs with (executables inherit it, minus QREXEC_*). */
  readonly env?: NodeJS.ProcessEnv
}

export interface StandInCall {
  readonly service: string
  /** `null`: the caller named no argument. */
  readonly argument?: string | null
  /** The calling qube; `dom0` for dom0 (which adds no `+` without an argument). */
  readonly source: string
  /** A qube calling dom0: `name QUBE` or `keyword adminvm`. */
  readonly target?: { readonly type: 'name' | 'keyword'; readonly value: string }
  readonly input?: string | Uint8Array | Readable
  readonly maxOutputBytes?: number
  readonly timeoutMs?: number
  /** Sees the caller's stdout as it arrives (a caller that reacts to it, like apt closing its connection). */
  readonly onOutput?: (chunk: Buffer) => void
}

export type ServiceKind = 'socket' | 'executable' | 'tcp' | 'not-found'

export interface StandInResult {
  readonly exitCode: number
  readonly stdout: Buffer
  readonly stderr: string
  readonly kind: ServiceKind
  readonly path?: string
}

export const EXIT_QREXEC_FAILURE = 125
export const EXIT_NOT_FOUND = 127

interface Found {
  readonly kind: Exclude<ServiceKind, 'not-found'>
  readonly path: string
  readonly tcp?: { host: string; port: number }
}

/** `SERVICE+ARG` in every directory first, then `SERVICE`; lstat, then follow a link with stat. */
export async function lookUpService(
  dirs: readonly string[],
  service: string,
  argument: string | null,
): Promise<Found | null> {
  const names = argument ? [`${service}+${argument}`, service] : [service]
  for (const name of names) {
    for (const dir of dirs) {
      const path = join(dir, name)
      const entry = await lstat(path).catch(() => null)
      if (!entry) continue
      if (entry.isSymbolicLink()) {
        const target = await readlink(path)
        const tcp = /^\/dev\/tcp\/([^/]+)\/([0-9]+)/.exec(target)
        if (tcp) return { kind: 'tcp', path, tcp: { host: tcp[1] ?? '', port: Number(tcp[2]) } }
      }
      const followed = await stat(path).catch(() => null)
      if (followed?.isSocket()) return { kind: 'socket', path }
      if (followed?.isFile() && (followed.mode & 0o111) !== 0) return { kind: 'executable', path }
      return null
    }
  }
  return null
}

/** `key = value` lines; booleans true/false, strings in single quotes. */
async function rpcConfig(dirs: readonly string[], service: string): Promise<Record<string, string | boolean>> {
  for (const dir of dirs) {
    const text = await readFile(join(dir, service), 'utf8').catch(() => null)
    if (text === null) continue
    const options: Record<string, string | boolean> = {}
    for (const line of text.split('\n')) {
      const match = /^\s*([a-z-]+)\s*=\s*(true|false|'[^']*')\s*$/.exec(line)
      if (match?.[1] && match[2])
        options[match[1]] = match[2] === 'true' ? true : match[2] === 'false' ? false : match[2].slice(1, -1)
    }
    return options
  }
  return {}
}

/** What the agent writes first on a socket service's connection (without the NUL). */
export function descriptorText(call: StandInCall): string {
  const argument = call.argument ?? null
  // dom0 adds no `+` without an argument; qrexec-daemon does for a qube's call.
  const name =
    argument === null ? (call.source === 'dom0' ? call.service : `${call.service}+`) : `${call.service}+${argument}`
  return call.target ? `${name} ${call.source} ${call.target.type} ${call.target.value}` : `${name} ${call.source}`
}

const inputStream = (input: StandInCall['input']): Readable =>
  input instanceof Readable ? input : Readable.from(input === undefined ? [] : [Buffer.from(input)])

function collect(
  stream: NodeJS.ReadableStream,
  max: number,
  onOverflow: () => void,
  onOutput?: (chunk: Buffer) => void,
): () => Buffer {
  const chunks: Buffer[] = []
  let size = 0
  stream.on('data', (chunk: Buffer) => {
    onOutput?.(chunk)
    size += chunk.length
    if (size > max) onOverflow()
    else chunks.push(chunk)
  })
  return () => Buffer.concat(chunks)
}

/** A socket or TCP service: descriptor (unless skipped), stdin in, half-close, stdout out; exit 0. */
function streamCall(
  socket: Socket,
  descriptor: string | null,
  call: StandInCall,
  options: Record<string, string | boolean>,
): Promise<StandInResult & { connected: boolean }> {
  return new Promise((resolve) => {
    let connected = false
    let serviceEof = false
    let clientEof = false
    let settled = false
    const output = collect(socket, call.maxOutputBytes ?? 64 * 1024 * 1024, () => socket.destroy(), call.onOutput)
    const input = inputStream(call.input)
    const finish = (exitCode: number) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      input.destroy()
      socket.destroy()
      resolve({ exitCode, stdout: output(), stderr: '', kind: 'socket', connected })
    }
    const timer = setTimeout(() => finish(EXIT_QREXEC_FAILURE), call.timeoutMs ?? 60_000)
    const maybeDone = () => {
      if (options['exit-on-service-eof'] === true && serviceEof) return finish(0)
      if (options['exit-on-client-eof'] === true && clientEof) return finish(0)
      if (serviceEof && clientEof) finish(0)
    }
    socket.on('connect', () => {
      connected = true
      if (descriptor !== null) socket.write(`${descriptor}\0`)
      input.pipe(socket, { end: false })
      input.on('end', () => {
        clientEof = true
        // The caller's stdin ended: shut down the write side; the service reads EOF.
        socket.end()
        maybeDone()
      })
    })
    socket.on('end', () => {
      serviceEof = true
      maybeDone()
    })
    socket.on('error', () => finish(connected ? 0 : EXIT_QREXEC_FAILURE))
    socket.on('close', () => {
      serviceEof = true
      // The service closed both ways: nothing more can flow in either direction.
      finish(connected ? 0 : EXIT_QREXEC_FAILURE)
    })
  })
}

const SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGTERM: 15,
}

function executableCall(path: string, call: StandInCall, baseEnv: NodeJS.ProcessEnv): Promise<StandInResult> {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(baseEnv)) if (!key.startsWith('QREXEC')) env[key] = value
  const argument = call.argument ?? null
  const effective = argument === null && call.source !== 'dom0' ? '' : argument
  env.QREXEC_REMOTE_DOMAIN = call.source
  env.QREXEC_SERVICE_FULL_NAME = effective === null ? call.service : `${call.service}+${effective}`
  if (effective !== null) env.QREXEC_SERVICE_ARGUMENT = effective
  env.QREXEC_REQUESTED_TARGET_TYPE = call.target?.type ?? ''
  if (call.target?.type === 'name') env.QREXEC_REQUESTED_TARGET = call.target.value
  if (call.target?.type === 'keyword') env.QREXEC_REQUESTED_TARGET_KEYWORD = call.target.value
  env.QREXEC_AGENT_PID = String(process.pid)
  return new Promise((resolve) => {
    const child = spawn(path, effective ? [effective] : [], { env, stdio: ['pipe', 'pipe', 'pipe'] })
    const stdout = collect(
      child.stdout,
      call.maxOutputBytes ?? 64 * 1024 * 1024,
      () => child.kill('SIGKILL'),
      call.onOutput,
    )
    const stderr = collect(child.stderr, 1024 * 1024, () => undefined)
    const timer = setTimeout(() => child.kill('SIGKILL'), call.timeoutMs ?? 60_000)
    child.stdin.on('error', () => undefined)
    inputStream(call.input).pipe(child.stdin)
    child.on('error', () =>
      resolve({
        exitCode: EXIT_QREXEC_FAILURE,
        stdout: Buffer.alloc(0),
        stderr: 'spawn failed',
        kind: 'executable',
        path,
      }),
    )
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({
        exitCode: code ?? 128 + (SIGNALS[signal ?? ''] ?? 0),
        stdout: stdout(),
        stderr: stderr().toString('utf8'),
        kind: 'executable',
        path,
      })
    })
  })
}

/** Runs one call as qrexec-agent would in the serving qube; the result is what the caller sees. */
export async function callThroughAgent(config: StandInConfig, call: StandInCall): Promise<StandInResult> {
  const found = await lookUpService(config.serviceDirs, call.service, call.argument ?? null)
  if (!found) return { exitCode: EXIT_NOT_FOUND, stdout: Buffer.alloc(0), stderr: '', kind: 'not-found' }
  if (found.kind === 'executable') return executableCall(found.path, call, config.env ?? process.env)
  const options = await rpcConfig(config.rpcConfigDirs ?? [], call.service)
  const socket =
    found.kind === 'tcp'
      ? connect({ host: found.tcp?.host ?? '', port: found.tcp?.port ?? 0, allowHalfOpen: true })
      : connect({ path: found.path, allowHalfOpen: true })
  const descriptor =
    found.kind === 'socket' && options['skip-service-descriptor'] !== true ? descriptorText(call) : null
  const { connected: _connected, ...result } = await streamCall(socket, descriptor, call, options)
  return { ...result, kind: found.kind, path: found.path }
}
