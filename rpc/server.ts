import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { callOf, DEFAULT_LIMITS, perSourceLimit, type CallLimits, type Handler, type RpcLog } from './call'
import { CallInput } from './call-input'
import { closeAfter, FLUSH_BOUND_MS, refuse } from './close'
import { refusalLog, type RefusalLog } from './refusal-log'
import { CallSlots, type Ticket } from './slots'
import { MAX_DESCRIPTOR_BYTES, parseDescriptor, quoteUntrusted, type Descriptor } from './descriptor'
import { CodedError, errorMessage } from './errors'

/** One service as the server runs it. */
export interface ServedService {
  readonly name: string
  readonly handler: Handler
  readonly limits?: CallLimits
}

/** Accepts the connections of one service's socket and runs each call within its limits. */
export interface ServiceEndpoint {
  readonly name: string
  accept(socket: Socket): void
  /** Calls open now (connected and not finished). */
  readonly openCalls: number
  /** Waits up to `graceMs` for open calls to finish, then cuts the rest. */
  drain(graceMs: number): Promise<void>
  /** Ends the grace period of a drain under way: its open calls are cut now. */
  hurry(): void
}

// After a limit breaks, the handler gets this long to answer the error itself.
const HANDLER_GRACE_MS = 500
const INTERNAL = () => new CodedError('INTERNAL', "internal error in the service (a bug; see the serving qube's log)")

/** What an open call asks of its endpoint. */
interface Endpoint {
  readonly ticket: Ticket
  readonly note: RefusalLog
  /** The connection is closed and nothing of the call is left. */
  closed(call: OpenCall): void
}

export function serviceEndpoint(service: ServedService, log: RpcLog): ServiceEndpoint {
  const limits = service.limits ?? DEFAULT_LIMITS
  const open = new Set<OpenCall>()
  const idle: (() => void)[] = []
  const hurried: (() => void)[] = []
  const note = refusalLog(log)
  const slots = new CallSlots(service.name, limits.maxConcurrent, perSourceLimit(limits))
  const closed = (call: OpenCall) => {
    open.delete(call)
    if (open.size === 0) idle.splice(0).forEach((wake) => wake())
  }
  return {
    name: service.name,
    get openCalls() {
      return open.size
    },
    accept(socket) {
      const ticket = slots.enter()
      if (ticket instanceof CodedError) {
        note('BUSY', 'warning', `${service.name}: refused a call: ${ticket.message}`)
        refuse(socket, service.handler, ticket)
        return
      }
      open.add(new OpenCall(socket, service, limits, log, { ticket, note, closed }))
    },
    async drain(graceMs) {
      if (open.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs)
          const wake = () => {
            clearTimeout(timer)
            resolve()
          }
          idle.push(wake)
          hurried.push(wake)
        })
      }
      if (open.size === 0) return
      log.warning(`${service.name}: cutting ${open.size} call(s) still open after ${graceMs} ms`)
      const done = new Promise<void>((resolve) => idle.push(resolve))
      for (const call of open) call.cut(new CodedError('SHUTTING_DOWN', 'the service is shutting down'), 0)
      await Promise.race([done, new Promise((resolve) => setTimeout(resolve, FLUSH_BOUND_MS + HANDLER_GRACE_MS))])
    },
    hurry() {
      hurried.splice(0).forEach((wake) => wake())
    },
  }
}

/** One connection, from the descriptor to the close. */
class OpenCall {
  private readonly controller = new AbortController()
  private readonly chunks: Buffer[] = []
  private received = 0
  private input: CallInput | undefined
  private inputBytes = 0
  private inputEnded = false
  private serving = false
  private settled = false
  private socketClosed = false
  private timer: NodeJS.Timeout
  private hardCut: NodeJS.Timeout | undefined
  private readonly started = performance.now()

  constructor(
    private readonly socket: Socket,
    private readonly service: ServedService,
    private readonly limits: CallLimits,
    private readonly log: RpcLog,
    private readonly endpoint: Endpoint,
  ) {
    this.timer = setTimeout(
      () =>
        this.cut(
          new CodedError('DESCRIPTOR_TIMEOUT', `no service descriptor within ${limits.descriptorTimeoutMs} ms`),
          0,
        ),
      limits.descriptorTimeoutMs,
    )
    socket.on('data', this.onDescriptorData)
    socket.on('end', this.onEnd)
    socket.on('error', this.onError)
    socket.on('close', this.onClose)
  }

  private readonly onDescriptorData = (chunk: Buffer): void => {
    const nul = chunk.indexOf(0)
    if (nul === -1) {
      this.received += chunk.length
      if (this.received > MAX_DESCRIPTOR_BYTES)
        return this.reject(
          new CodedError(
            'DESCRIPTOR_INVALID',
            `invalid service descriptor: no NUL within ${MAX_DESCRIPTOR_BYTES} bytes`,
          ),
        )
      this.chunks.push(chunk)
      return
    }
    const head = chunk.subarray(0, nul)
    const bytes = this.chunks.length === 0 ? head : Buffer.concat([...this.chunks, head])
    this.chunks.length = 0
    let descriptor: Descriptor
    try {
      descriptor = parseDescriptor(bytes)
      if (descriptor.service !== this.service.name)
        throw new CodedError(
          'DESCRIPTOR_INVALID',
          `invalid service descriptor: service ${quoteUntrusted(descriptor.service)} called on the socket of ${this.service.name}`,
        )
    } catch (error) {
      return this.reject(error instanceof CodedError ? error : INTERNAL())
    }
    const busy = this.endpoint.ticket.admit(descriptor.source)
    if (busy) return this.reject(busy)
    this.socket.off('data', this.onDescriptorData)
    this.start(descriptor, chunk.subarray(nul + 1))
  }

  private start(descriptor: Descriptor, rest: Buffer): void {
    clearTimeout(this.timer)
    const remaining = Math.max(0, this.limits.totalTimeoutMs - (performance.now() - this.started))
    this.timer = setTimeout(
      () =>
        this.cut(
          new CodedError('CALL_TIMEOUT', `the call took longer than ${this.limits.totalTimeoutMs} ms`),
          HANDLER_GRACE_MS,
        ),
      remaining,
    )
    const input = new CallInput(this.socket, {
      stallMs: this.limits.inputStallTimeoutMs,
      onStall: (ms) =>
        this.cut(
          new CodedError(
            'INPUT_STALLED',
            `the caller's input waited ${ms} ms unread (the caller is gone or the service stopped reading)`,
          ),
          HANDLER_GRACE_MS,
        ),
    })
    this.input = input
    this.serving = true
    this.socket.on('data', this.onInputData)
    this.onInputData(rest)
    if (this.inputEnded) input.finish()
    const call = callOf(descriptor, {
      input,
      output: this.socket,
      signal: this.controller.signal,
      limits: this.limits,
      log: this.log,
    })
    let served: Promise<void>
    try {
      served = this.service.handler.serve(call)
    } catch (error) {
      served = Promise.reject(error)
    }
    served.then(
      () => this.finish(undefined),
      (error: unknown) => this.finish(error),
    )
  }

  private readonly onInputData = (chunk: Buffer): void => {
    this.inputBytes += chunk.length
    if (this.inputBytes > this.limits.maxInputBytes) {
      this.socket.off('data', this.onInputData)
      this.socket.pause()
      this.cut(
        new CodedError('INPUT_TOO_LARGE', `input longer than ${this.limits.maxInputBytes} bytes`),
        HANDLER_GRACE_MS,
      )
      return
    }
    this.input?.feed(chunk)
  }

  private readonly onEnd = (): void => {
    this.inputEnded = true
    if (this.input && !this.input.destroyed) this.input.finish()
    else if (!this.serving)
      this.reject(new CodedError('DESCRIPTOR_INVALID', 'invalid service descriptor: the caller closed before its NUL'))
  }

  private readonly onError = (error: NodeJS.ErrnoException): void => {
    this.log.debug(`${this.service.name}: connection error: ${error.code ?? error.message}`)
    this.controller.abort(new CodedError('CALLER_GONE', 'the caller went away'))
  }

  private readonly onClose = (): void => {
    this.socketClosed = true
    clearTimeout(this.timer)
    clearTimeout(this.hardCut)
    if (!this.controller.signal.aborted && !this.settled)
      this.controller.abort(new CodedError('CALLER_GONE', 'the caller went away'))
    if (this.input && !this.inputEnded && !this.input.destroyed)
      this.input.destroy(new CodedError('CALLER_GONE', 'the caller went away'))
    this.maybeClosed()
  }

  private maybeClosed(): void {
    if (!this.socketClosed || !(this.settled || !this.serving)) return
    this.endpoint.ticket.release()
    this.endpoint.closed(this)
  }

  /** A call that never reached the handler: its slot is free at once, only the answer's flush (bounded) is left. */
  private reject(error: CodedError): void {
    clearTimeout(this.timer)
    this.endpoint.ticket.release()
    this.endpoint.note(
      error.code,
      error.code === 'BUSY' ? 'warning' : 'info',
      `${this.service.name}: refused a call: ${error.message}`,
    )
    this.socket.off('data', this.onDescriptorData)
    closeAfter(this.socket, this.service.handler.failureAnswer?.(error))
  }

  /** Breaks the call: the handler sees the abort (and its input fails); past `graceMs` the connection is closed. */
  cut(error: CodedError, graceMs: number): void {
    if (!this.serving) return this.reject(error)
    // The handler is done and its answer is on the way: only the connection is left.
    if (this.settled) return this.closeNow(error)
    if (!this.controller.signal.aborted) {
      this.endpoint.note(error.code, 'info', `${this.service.name}: cutting a call: ${error.message}`)
      this.controller.abort(error)
      if (this.input && !this.inputEnded) this.input.destroy(error)
    }
    clearTimeout(this.hardCut)
    if (graceMs === 0) this.closeNow(error)
    else this.hardCut = setTimeout(() => this.closeNow(error), graceMs)
  }

  private closeNow(error: CodedError): void {
    const answered = this.socket.bytesWritten > 0 || this.socket.writableEnded
    closeAfter(this.socket, answered ? undefined : this.service.handler.failureAnswer?.(error))
  }

  private finish(error: unknown): void {
    this.settled = true
    this.endpoint.ticket.release()
    clearTimeout(this.hardCut)
    if (error !== undefined) {
      const coded = error instanceof CodedError ? error : INTERNAL()
      if (error instanceof CodedError)
        this.endpoint.note(error.code, 'info', `${this.service.name}: call failed: ${error.message}`)
      else this.log.error(`${this.service.name}: bug: ${(error as Error)?.stack ?? errorMessage(error)}`)
      this.closeNow(coded)
    } else {
      // The handler is done: once the answer is out, unread input no longer matters.
      closeAfter(this.socket, undefined)
    }
    this.maybeClosed()
  }
}
