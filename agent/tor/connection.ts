import { connect, type Socket } from 'node:net'
import { CodedError } from '../../rpc/errors'
import { formatControlAddress, type ControlAddress } from './address'

/** One reply of Tor's control protocol: its status and the text of each line (a data block joins its line after a newline). */
export interface ControlReply {
  readonly status: number
  readonly lines: readonly string[]
}

export interface ControlLimits {
  /** Bound on connecting, and on each command's reply. */
  readonly timeoutMs: number
  /** Bound on one reply (all its lines); a longer one closes the connection. */
  readonly maxReplyBytes: number
}

// Control-spec: "NNN-" mid line, "NNN+" data follows until ".", "NNN " last line of a reply.
const REPLY_LINE = /^([0-9]{3})([ +-])(.*)$/s
const ASYNC_STATUS = 650

interface Pending {
  resolve(reply: ControlReply): void
  reject(error: Error): void
}

/**
 * A connection to Tor's control port or socket. Everything Tor sends is parsed with a
 * bound on size and time; commands are answered in order; asynchronous events (650) go
 * to `onEvent` listeners. Any protocol violation or timeout closes the connection.
 */
export class ControlConnection {
  private buffer: Buffer = Buffer.alloc(0)
  private lines: string[] = []
  private replyBytes = 0
  private data: string[] | null = null
  private readonly queue: Pending[] = []
  private readonly eventListeners = new Set<(reply: ControlReply) => void>()
  private readonly closeListeners = new Set<(error: CodedError) => void>()
  private closedWith: CodedError | null = null

  private constructor(
    private readonly socket: Socket,
    readonly address: string,
    private readonly limits: ControlLimits,
  ) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk))
    socket.on('error', (error) =>
      this.fail(
        new CodedError('TOR_CONTROL_CLOSED', `Tor control connection ${address} failed: ${error.message}`, {
          cause: error,
        }),
      ),
    )
    socket.on('close', () =>
      this.fail(new CodedError('TOR_CONTROL_CLOSED', `Tor closed the control connection ${address}`)),
    )
  }

  static open(address: ControlAddress, limits: ControlLimits): Promise<ControlConnection> {
    const shown = formatControlAddress(address)
    return new Promise((resolve, reject) => {
      const socket =
        address.kind === 'unix' ? connect({ path: address.path }) : connect({ host: address.host, port: address.port })
      const timer = setTimeout(() => {
        socket.destroy()
        reject(
          new CodedError(
            'TOR_CONTROL_UNREACHABLE',
            `cannot reach Tor's control port ${shown}: no answer within ${limits.timeoutMs} ms`,
          ),
        )
      }, limits.timeoutMs)
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        reject(
          new CodedError(
            'TOR_CONTROL_UNREACHABLE',
            `cannot reach Tor's control port ${shown}: ${error.code ?? error.message}`,
            { cause: error },
          ),
        )
      })
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        resolve(new ControlConnection(socket, shown, limits))
      })
    })
  }

  get closed(): boolean {
    return this.closedWith !== null
  }

  /** Sends one command line and resolves to its reply, whatever its status. */
  request(command: string): Promise<ControlReply> {
    if (/[\r\n]/.test(command)) return Promise.reject(new TypeError('a control command is one line'))
    if (this.closedWith) return Promise.reject(this.closedWith)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(
          new CodedError(
            'TOR_CONTROL_TIMEOUT',
            `Tor did not answer ${command.split(' ')[0]} within ${this.limits.timeoutMs} ms on ${this.address}`,
          ),
        )
      }, this.limits.timeoutMs)
      this.queue.push({
        resolve: (reply) => (clearTimeout(timer), resolve(reply)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      })
      this.socket.write(`${command}\r\n`)
    })
  }

  /** Like `request`, but a status other than 250 is an error naming the command and Tor's words. */
  async command(command: string): Promise<ControlReply> {
    const reply = await this.request(command)
    if (reply.status !== 250) {
      const verb = command.split(' ')[0]
      throw new CodedError(
        'TOR_CONTROL_REFUSED',
        `Tor refused ${verb}: ${reply.status} ${(reply.lines.at(-1) ?? '').slice(0, 200)}`,
      )
    }
    return reply
  }

  onEvent(listener: (reply: ControlReply) => void): void {
    this.eventListeners.add(listener)
  }

  onClose(listener: (error: CodedError) => void): void {
    if (this.closedWith) listener(this.closedWith)
    else this.closeListeners.add(listener)
  }

  close(): void {
    this.fail(new CodedError('TOR_CONTROL_CLOSED', `control connection ${this.address} closed`))
  }

  private fail(error: CodedError): void {
    if (this.closedWith) return
    this.closedWith = error
    this.socket.destroy()
    for (const pending of this.queue.splice(0)) pending.reject(error)
    for (const listener of this.closeListeners) listener(error)
    this.closeListeners.clear()
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
    let newline: number
    while (!this.closedWith && (newline = this.buffer.indexOf(0x0a)) !== -1) {
      const line = this.buffer
        .subarray(0, newline > 0 && this.buffer[newline - 1] === 0x0d ? newline - 1 : newline)
        .toString('utf8')
      this.buffer = this.buffer.subarray(newline + 1)
      this.replyBytes += newline + 1
      if (this.replyBytes > this.limits.maxReplyBytes)
        return this.protocolError(`a reply longer than ${this.limits.maxReplyBytes} bytes`)
      this.line(line)
    }
    if (this.buffer.length + this.replyBytes > this.limits.maxReplyBytes)
      this.protocolError(`a reply longer than ${this.limits.maxReplyBytes} bytes`)
  }

  private line(untrustedLine: string): void {
    if (this.data) {
      if (untrustedLine === '.') {
        // The block belongs to the line that announced it ("250+KEY=" then the value).
        this.lines[this.lines.length - 1] += `\n${this.data.join('\n')}`
        this.data = null
      } else this.data.push(untrustedLine.startsWith('.') ? untrustedLine.slice(1) : untrustedLine)
      return
    }
    const match = REPLY_LINE.exec(untrustedLine)
    if (!match) return this.protocolError(`a malformed line ${JSON.stringify(untrustedLine.slice(0, 60))}`)
    const [, status, kind, text] = match as unknown as [string, string, string, string]
    this.lines.push(text)
    if (kind === '+') this.data = []
    if (kind !== ' ') return
    const reply: ControlReply = { status: Number(status), lines: this.lines }
    this.lines = []
    this.replyBytes = 0
    if (reply.status === ASYNC_STATUS) for (const listener of this.eventListeners) listener(reply)
    else {
      const pending = this.queue.shift()
      if (!pending) return this.protocolError('a reply to no command')
      pending.resolve(reply)
    }
  }

  private protocolError(what: string): void {
    this.fail(new CodedError('TOR_CONTROL_PROTOCOL', `Tor's control port ${this.address} sent ${what}`))
  }
}
