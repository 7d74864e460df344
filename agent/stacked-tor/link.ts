import { createConnection, Socket } from 'node:net'
import type { AcceptedHandle } from './accept'
import type { BufferPools } from './buffers'
import type { Endpoint } from './endpoint'
import { Pump } from './pump'

export type LinkSide = 'client' | 'gateway'

export interface LinkHooks {
  /** The gateway accepted the connection. */
  connected(): void
  /** The first error of a side; the link is torn down right after. */
  failed(side: LinkSide, error: NodeJS.ErrnoException): void
  /** Both sockets are closed and the buffers are back in their pools. */
  closed(link: LinkHandle): void
}

export interface LinkOptions {
  readonly target: Endpoint
  readonly connectTimeoutMs: number
  readonly pools: BufferPools
  /** The client came over TCP: a gateway failure resets its connection (RST). */
  readonly resetClient: boolean
  /** The target is a TCP endpoint with an IPv6 address (decided once, not per connection). */
  readonly targetIsIPv6: boolean
}

/** The error of a gateway that did not answer within the connect timeout (both engines). */
export function connectTimeoutError(timeoutMs: number): NodeJS.ErrnoException {
  return Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })
}

export interface LinkHandle {
  destroy(): void
}

/**
 * One forwarded connection: the client's socket and one to the gateway, each direction a
 * Pump. A half-close is passed on (`end` -> `end`); an error on either side destroys both
 * (the client's TCP connection is reset, so it sees the failure at once).
 */
export function openLink(accepted: AcceptedHandle, options: LinkOptions, hooks: LinkHooks): LinkHandle {
  const up = new Pump(options.pools)
  const down = new Pump(options.pools)
  // `handle` is not in Node's typings: a Socket over an accepted connection's handle.
  const client = new Socket({
    handle: accepted,
    allowHalfOpen: true,
    onread: { buffer: up.next, callback: up.received },
  } as ConstructorParameters<typeof Socket>[0])
  const onread = { buffer: down.next, callback: down.received }
  const gateway =
    options.target.kind === 'tcp'
      ? createConnection({ host: options.target.host, port: options.target.port, allowHalfOpen: true, onread })
      : createConnection({ path: options.target.path, allowHalfOpen: true, onread })
  up.connect(client, gateway)
  down.connect(gateway, client)

  const link: LinkHandle = {
    destroy() {
      gateway.destroy()
      client.destroy()
    },
  }
  let failed = false
  let open = 2
  const fail = (side: LinkSide) => (error: NodeJS.ErrnoException) => {
    if (!failed) {
      failed = true
      hooks.failed(side, error)
    }
    gateway.destroy()
    if (side === 'gateway' && options.resetClient && !client.destroyed) client.resetAndDestroy()
    else client.destroy()
  }
  const onClose = () => {
    if (--open > 0) return
    up.dispose()
    down.dispose()
    hooks.closed(link)
  }
  client.on('error', fail('client'))
  gateway.on('error', fail('gateway'))
  client.on('close', onClose)
  gateway.on('close', onClose)
  client.on('end', () => gateway.end())
  gateway.on('end', () => client.end())
  gateway.setTimeout(options.connectTimeoutMs, () => {
    gateway.destroy(connectTimeoutError(options.connectTimeoutMs))
  })
  gateway.once('connect', () => {
    gateway.setTimeout(0)
    gateway.setNoDelay(true)
    hooks.connected()
  })
  client.setNoDelay(true)
  return link
}
