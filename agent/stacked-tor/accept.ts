import type { Server, Socket } from 'node:net'
import { getSystemErrorName } from 'node:util'
import type { StreamHandle } from './stream-handles'

/** An accepted connection's native handle, not yet wrapped by a Socket. */
export type AcceptedHandle = StreamHandle

// Node internals used here: a listening server's `_handle.onconnection(status, handle)` and a
// socket's `_handle`. Both have been there since Node 0.x; if they are missing, the public
// 'connection' event is used instead (one Socket more per connection).
interface ServerInternals {
  _handle?: { onconnection?: (status: number, handle?: AcceptedHandle) => void } | null
}
interface SocketInternals {
  _handle: AcceptedHandle | null
}

/**
 * Takes over accepting on a listening server (created with `pauseOnConnect: true`): `accept`
 * gets each connection's handle before Node wraps it in a Socket: the forwarder drives the
 * handle itself (handle-link.ts), or where Node lacks the handles wraps it once, in a Socket
 * with its own `onread` buffer. The Socket Node would make first costs about a quarter of a
 * forwarded connection's JavaScript time.
 */
export function acceptHandles(
  server: Server,
  accept: (handle: AcceptedHandle) => void,
  failed: (cause: string) => void,
): 'direct' | 'event' {
  const listening = (server as unknown as ServerInternals)._handle
  if (listening && typeof listening.onconnection === 'function') {
    listening.onconnection = (status, handle) => {
      if (status < 0 || handle === undefined) failed(status < 0 ? getSystemErrorName(status) : 'no handle')
      else accept(handle)
    }
    return 'direct'
  }
  server.on('connection', (socket: Socket) => {
    const carrier = socket as unknown as SocketInternals
    const handle = carrier._handle
    // The server counts this socket: let it go without closing the handle it carried.
    carrier._handle = null
    socket.destroy()
    if (handle) accept(handle)
  })
  return 'event'
}
