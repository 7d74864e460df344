import type { ChildProcess } from 'node:child_process'
import { createServer, type Server, type ServerOpts, type Socket } from 'node:net'
import type { RpcLog } from '../../rpc/call'
import type { MarkerReader, MarkerReading } from '../apt-gate/facts'
import { GATE_SOCKET_NAME, type PassedSockets } from '../daemon/passed'
import { settled } from '../apt-gate/wait'
import type { Manifest } from '../manifest/schema'
import { isIPv6 } from '../net/ip'
import { readReport } from '../updates-check/report'
import { gateRefusalResponse, type GateRefusal } from './answer'
import { startOnPipes, startOnSocket, type GateCall } from './client'
import { isProbeRequest, readHead, type ReadHead } from './head'

export interface GateSettings {
  readonly manifest: Manifest
  readonly listen: { readonly host: string; readonly port: number }
  readonly call: GateCall
  /** The check's markers, read on every connection. */
  readonly read: MarkerReader
  /** The check's report file (re-rooted). */
  readonly reportFile: string
  readonly templateName: string | null
  readonly log: RpcLog
  /** The socket systemd bound for the gate, when the daemon runs as its unit. */
  readonly passed?: PassedSockets
}

const SERVER_OPTIONS: ServerOpts = { pauseOnConnect: true, allowHalfOpen: true }

export interface GateStatus {
  readonly listen: string
  readonly state: 'starting' | 'listening' | 'failed' | 'stopped'
  readonly reason?: string
  readonly connections: {
    readonly active: number
    readonly forwarded: number
    readonly probes: number
    readonly refused: number
    readonly dropped: number
  }
}

// A refused client may still be sending (apt pipelines its requests): read and drop it this
// long after the answer, so closing does not reset the connection before the answer is read.
const LINGER_MS = 5000

/**
 * The template's end of the updates proxy. Each connection: the check has passed, so
 * qrexec-client-vm gets the connection itself, as Qubes' forwarder does; it has not, so the
 * request's head is read and only the check's own probe goes on, every other request is
 * answered 503 and nothing reaches qrexec.
 */
export class UpdatesGate {
  private server: Server | null = null
  private state: GateStatus['state'] = 'starting'
  private reason: string | undefined
  private retry: NodeJS.Timeout | null = null
  private readonly open = new Set<Socket>()
  private readonly children = new Set<ChildProcess>()
  private readonly counts = { forwarded: 0, probes: 0, refused: 0, dropped: 0 }
  private readonly checkUrl: URL

  constructor(private readonly settings: GateSettings) {
    this.checkUrl = new URL(settings.manifest.updatesProxy.check.url)
  }

  private passedServer: Server | null = null
  private readonly onConnection = (socket: Socket) => this.accept(socket)

  /**
   * Serves the socket systemd bound (no local process can have taken the port before it).
   * Run by systemd without it, the gate does not listen at all: it fails closed. Outside
   * systemd (a shell, the tests) it binds the address itself.
   */
  async start(): Promise<void> {
    const { passed } = this.settings
    const fromSystemd = passed?.server(GATE_SOCKET_NAME, SERVER_OPTIONS) ?? null
    if (fromSystemd !== null) return this.serve(await fromSystemd, 'the socket systemd passed')
    if (passed?.activated) {
      this.state = 'failed'
      this.reason = `started by systemd without its socket ${GATE_SOCKET_NAME}: not listening (updates fail closed)`
      return this.settings.log.error(`${this.address()}: ${this.reason}`)
    }
    return this.bind()
  }

  /** Settles after the first try to listen; an address in use is tried again every retryMs. */
  private async bind(): Promise<void> {
    this.retry = null
    const { host, port } = this.settings.listen
    const server = createServer(SERVER_OPTIONS)
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(
          { host, port, exclusive: true, ipv6Only: isIPv6(host) },
          () => (server.off('error', reject), resolve()),
        )
      })
    } catch (error) {
      server.close()
      if (this.state === 'stopped') return
      const { retryMs } = this.settings.manifest.updatesProxy.gate
      this.state = 'failed'
      this.reason = `cannot listen: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; trying again every ${retryMs} ms`
      this.settings.log.warning(`${this.address()}: ${this.reason}`)
      this.retry = setTimeout(() => void this.bind(), retryMs)
      return
    }
    if (this.state === 'stopped') return void server.close()
    this.server = server
    server.on('error', (error: NodeJS.ErrnoException) =>
      this.settings.log.warning(`${this.address()}: ${error.code ?? error.message}`),
    )
    this.serve(server, 'its own socket')
  }

  private serve(server: Server, which: string): void {
    if (this.state === 'stopped') return
    if (server !== this.server) this.passedServer = server
    this.state = 'listening'
    this.reason = undefined
    server.on('connection', this.onConnection)
    this.settings.log.info(
      `${this.address()}: listening on ${which}; forwarding to ${this.settings.call.target} ${this.settings.call.service} once the torified check has passed`,
    )
  }

  private accept(socket: Socket): void {
    socket.on('error', () => undefined)
    if (this.open.size >= this.settings.manifest.updatesProxy.gate.maxConnections) {
      this.counts.dropped++
      return void socket.destroy()
    }
    this.open.add(socket)
    socket.once('close', () => this.open.delete(socket))
    void this.decide(socket).catch((error: unknown) => {
      this.settings.log.error(`connection: ${(error as Error).message}`)
      socket.destroy()
    })
  }

  private async decide(socket: Socket): Promise<void> {
    if ((await this.settings.read()).verdict === 'passed') return this.forwardSocket(socket)
    const deadline = this.deadline(socket)
    const { maxHeadBytes, headTimeoutMs } = this.settings.manifest.updatesProxy.gate
    const head = await readHead(socket, maxHeadBytes, headTimeoutMs)
    // Looked at again: the check may have passed while the head came.
    const reading = await this.settings.read()
    if (reading.verdict === 'passed') {
      clearTimeout(deadline)
      return this.forwardPipes(socket, head, 'all')
    }
    if (isProbeRequest(head, this.checkUrl)) return this.forwardPipes(socket, head, 'probe')
    return this.refuse(socket, reading, head)
  }

  /**
   * Before the check passes a connection lives at most as long as the check waits for its
   * probe (its head, the answer, its body): a client that keeps it open cannot hold a slot.
   */
  private deadline(socket: Socket): NodeJS.Timeout {
    const { gate, check } = this.settings.manifest.updatesProxy
    const timer = setTimeout(() => socket.destroy(), gate.headTimeoutMs + check.responseTimeoutMs + check.bodyTimeoutMs)
    socket.once('close', () => clearTimeout(timer))
    return timer
  }

  private forwardSocket(socket: Socket): void {
    const child = startOnSocket(this.settings.call, socket)
    if (child === null) return this.cannotCall(socket)
    this.track(child)
    this.counts.forwarded++
    // The child has its own copy of the connection: ours closes without touching it.
    this.open.delete(socket)
    socket.destroy()
  }

  /** The head first, then (all) the rest of the request, or (probe) nothing more. */
  private forwardPipes(socket: Socket, head: ReadHead, what: 'all' | 'probe'): void {
    const child = startOnPipes(this.settings.call)
    if (child === null) return this.cannotCall(socket)
    this.track(child)
    this.counts[what === 'all' ? 'forwarded' : 'probes']++
    const { stdin, stdout } = child as ChildProcess & {
      stdin: NonNullable<ChildProcess['stdin']>
      stdout: NonNullable<ChildProcess['stdout']>
    }
    stdin.write(head.bytes)
    stdout.pipe(socket)
    if (head.cut === 'ended') stdin.end()
    else if (what === 'all') socket.pipe(stdin)
    else socket.on('data', () => undefined).on('end', () => stdin.end())
    socket.resume()
    socket.once('close', () => child.kill('SIGTERM'))
    // The answer has ended with the call: the connection goes once it is sent, even if the client keeps its side open.
    child.once('close', () => {
      socket.end()
      if (socket.writableFinished) socket.destroy()
      else socket.once('finish', () => socket.destroy())
    })
  }

  private async refuse(socket: Socket, reading: MarkerReading, head: ReadHead): Promise<void> {
    this.counts.refused++
    const outcome = settled(reading)
    const refusal: GateRefusal = {
      state: outcome === 'failed' ? 'failed' : outcome === 'unusable' ? 'unusable' : 'pending',
      untrustedReport: outcome === 'failed' ? await readReport(this.settings.reportFile) : null,
      templateName: this.settings.templateName,
      headProblem: head.cut === null ? null : HEAD_PROBLEMS[head.cut],
    }
    this.settings.log.debug(`refused a request: the check is ${refusal.state}`)
    this.answerAndLinger(socket, gateRefusalResponse(this.settings.manifest, refusal))
  }

  private cannotCall(socket: Socket): void {
    const body = `${this.settings.call.program} cannot run here: this template cannot reach its updates qube.\n`
    this.settings.log.error(`cannot start ${this.settings.call.program}`)
    this.answerAndLinger(
      socket,
      [
        'HTTP/1.1 503 Service Unavailable',
        'Content-Type: text/plain; charset=utf-8',
        `Content-Length: ${body.length}`,
        'Connection: close',
        '',
        body,
      ].join('\r\n'),
    )
  }

  private answerAndLinger(socket: Socket, answer: string): void {
    socket.on('data', () => undefined)
    socket.end(answer)
    socket.resume()
    const timer = setTimeout(() => socket.destroy(), LINGER_MS)
    socket.once('close', () => clearTimeout(timer))
  }

  private track(child: ChildProcess): void {
    this.children.add(child)
    child.once('exit', () => this.children.delete(child))
  }

  private address(): string {
    const { host, port } = this.settings.listen
    return `${host.includes(':') ? `[${host}]` : host}:${port}`
  }

  status(): GateStatus {
    return {
      listen: this.address(),
      state: this.state,
      ...(this.reason === undefined ? {} : { reason: this.reason }),
      connections: { active: this.open.size + this.children.size, ...this.counts },
    }
  }

  /**
   * Stops listening and cuts the connections not yet decided. Forwarded ones run on in their
   * qrexec-client-vm: a reload does not break a download (a stop of the unit ends them with it).
   */
  async stop(): Promise<void> {
    this.state = 'stopped'
    if (this.retry !== null) clearTimeout(this.retry)
    for (const socket of this.open) socket.destroy()
    // The daemon keeps systemd's socket across reloads: only this gate stops taking its connections.
    this.passedServer?.off('connection', this.onConnection)
    this.passedServer = null
    const server = this.server
    this.server = null
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

const HEAD_PROBLEMS: Readonly<Record<NonNullable<ReadHead['cut']>, string>> = {
  ended: 'the request ended before its head did',
  'too-large': 'the request head is larger than the gate reads',
  timeout: 'the request head did not come in time',
}
