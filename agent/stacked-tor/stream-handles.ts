/**
 * Node's native stream handles (libuv TCP and pipe handles, and their write, shutdown and
 * connect requests), the layer under `net.Socket`. The forwarder drives them directly so a
 * forwarded connection costs no Socket and no stream state; `streamHandles()` is null where
 * they are not there, and the forwarder then uses Sockets.
 */

export interface RequestCallbacks {
  oncomplete: (status: number) => void
}

/** One connected TCP or pipe handle. Every call returns 0 or a negative libuv error. */
export interface StreamHandle {
  /**
   * Called with the handle as `this` after each read (the byte count or error is in the
   * state). With a user buffer, a Buffer returned becomes the buffer of the next read.
   */
  onread: (this: StreamHandle) => Buffer | undefined
  useUserBuffer(buffer: Buffer): void
  readStart(): number
  readStop(): number
  writeBuffer(request: RequestCallbacks, data: Buffer): number
  shutdown(request: RequestCallbacks): number
  close(done?: () => void): void
  /** TCP only: close with a reset (RST). */
  reset?(done: () => void): number
  setNoDelay?(on: boolean): number
  connect(request: RequestCallbacks, address: string, port?: number): number
  connect6?(request: RequestCallbacks, address: string, port: number): number
}

export interface StreamHandles {
  /** What the handles leave for `onread` (at `readBytesOrError`) and after a write (at `lastWriteWasAsync`). */
  readonly state: Int32Array
  readonly readBytesOrError: number
  readonly lastWriteWasAsync: number
  newTcp(): StreamHandle
  newPipe(): StreamHandle
  newConnectRequest(kind: 'tcp' | 'unix'): RequestCallbacks
  newWriteRequest(): RequestCallbacks
  newShutdownRequest(): RequestCallbacks
  readonly eof: number
}

type Constructor = new (...args: unknown[]) => object
interface Bindings {
  tcp: { TCP: Constructor; TCPConnectWrap: Constructor; constants: { SOCKET: number } }
  pipe: { Pipe: Constructor; PipeConnectWrap: Constructor; constants: { SOCKET: number } }
  stream: {
    WriteWrap: Constructor
    ShutdownWrap: Constructor
    streamBaseState: Int32Array
    kReadBytesOrError: number
    kLastWriteWasAsync: number
  }
  uv: { UV_EOF: number }
}

const STREAM_METHODS = [
  'readStart',
  'readStop',
  'writeBuffer',
  'shutdown',
  'useUserBuffer',
  'close',
  'connect',
] as const

function complete(bindings: Partial<Bindings>): bindings is Bindings {
  const { tcp, pipe, stream, uv } = bindings
  if (!tcp || !pipe || !stream || !uv) return false
  const constructors = [
    tcp.TCP,
    tcp.TCPConnectWrap,
    pipe.Pipe,
    pipe.PipeConnectWrap,
    stream.WriteWrap,
    stream.ShutdownWrap,
  ]
  if (!constructors.every((value) => typeof value === 'function')) return false
  const prototypes = [tcp.TCP.prototype as Record<string, unknown>, pipe.Pipe.prototype as Record<string, unknown>]
  return (
    prototypes.every((prototype) => STREAM_METHODS.every((name) => typeof prototype[name] === 'function')) &&
    stream.streamBaseState instanceof Int32Array &&
    Number.isInteger(stream.kReadBytesOrError) &&
    Number.isInteger(stream.kLastWriteWasAsync) &&
    Number.isInteger(uv.UV_EOF) &&
    uv.UV_EOF < 0
  )
}

// `process.binding` warns only when pending deprecations are asked for: then Sockets are used.
function pendingDeprecationsShown(): boolean {
  const options = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`
  return options.includes('--pending-deprecation') || process.env.NODE_PENDING_DEPRECATION === '1'
}

function load(): Partial<Bindings> {
  const binding = (process as unknown as { binding?: (name: string) => unknown }).binding
  if (typeof binding !== 'function' || pendingDeprecationsShown()) return {}
  const get = (name: string): unknown => {
    try {
      return binding.call(process, name)
    } catch {
      return undefined
    }
  }
  return {
    tcp: get('tcp_wrap') as Bindings['tcp'],
    pipe: get('pipe_wrap') as Bindings['pipe'],
    stream: get('stream_wrap') as Bindings['stream'],
    uv: get('uv') as Bindings['uv'],
  }
}

let loaded: StreamHandles | null | undefined

/** The handles, or null when this Node does not have them in the shape the forwarder needs. */
export function streamHandles(): StreamHandles | null {
  if (loaded !== undefined) return loaded
  const bindings = load()
  loaded = complete(bindings) ? fromBindings(bindings) : null
  return loaded
}

function fromBindings({ tcp, pipe, stream, uv }: Bindings): StreamHandles {
  const make = <T>(constructor: Constructor, ...args: unknown[]) => new constructor(...args) as T
  return {
    state: stream.streamBaseState,
    readBytesOrError: stream.kReadBytesOrError,
    lastWriteWasAsync: stream.kLastWriteWasAsync,
    eof: uv.UV_EOF,
    newTcp: () => make<StreamHandle>(tcp.TCP, tcp.constants.SOCKET),
    newPipe: () => make<StreamHandle>(pipe.Pipe, pipe.constants.SOCKET),
    newConnectRequest: (kind) => make<RequestCallbacks>(kind === 'tcp' ? tcp.TCPConnectWrap : pipe.PipeConnectWrap),
    newWriteRequest: () => make<RequestCallbacks>(stream.WriteWrap),
    newShutdownRequest: () => make<RequestCallbacks>(stream.ShutdownWrap),
  }
}
