import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs'
import { connect, createServer, type Server } from 'node:net'
import { dirname } from 'node:path'
import { CodedError, errnoCode, errorMessage } from './errors'
import type { ServiceEndpoint } from './server'

/** The first descriptor systemd passes (sd_listen_fds(3)). */
export const SD_LISTEN_FDS_START = 3

/**
 * Listening sockets passed by systemd socket activation, by name (`FileDescriptorName=`).
 * Empty when this process was not socket-activated. The variables are removed from `env`
 * so that children do not take the sockets for theirs.
 */
export function socketsFromSystemd(env: NodeJS.ProcessEnv, pid = process.pid): Map<string, number> {
  const sockets = new Map<string, number>()
  const { LISTEN_PID: untrustedPid, LISTEN_FDS: untrustedCount, LISTEN_FDNAMES: untrustedNames } = env
  delete env.LISTEN_PID
  delete env.LISTEN_FDS
  delete env.LISTEN_FDNAMES
  if (untrustedPid === undefined || untrustedCount === undefined) return sockets
  if (!/^[0-9]+$/.test(untrustedPid) || Number(untrustedPid) !== pid) return sockets
  if (!/^[0-9]{1,4}$/.test(untrustedCount))
    throw new CodedError(
      'SOCKET_ACTIVATION_INVALID',
      `LISTEN_FDS=${JSON.stringify(untrustedCount.slice(0, 16))} is not a count`,
    )
  const count = Number(untrustedCount)
  const names = untrustedNames === undefined ? [] : untrustedNames.split(':')
  for (let index = 0; index < count; index++) {
    // Unnamed sockets get systemd's default name; a name given twice keeps the first socket.
    const name = names[index] || 'unknown'
    if (!sockets.has(name)) sockets.set(name, SD_LISTEN_FDS_START + index)
  }
  return sockets
}

function serverFor(endpoint: ServiceEndpoint): Server {
  const server = createServer({ allowHalfOpen: true }, (socket) => endpoint.accept(socket))
  // One bad accept (EMFILE...) must not end the daemon: the server keeps listening.
  server.on('error', () => undefined)
  return server
}

/** Serves an endpoint on a listening socket systemd passed. */
export function listenOnFd(endpoint: ServiceEndpoint, fd: number): Promise<Server> {
  const server = serverFor(endpoint)
  return new Promise((resolve, reject) => {
    server.once('error', (error) =>
      reject(
        new CodedError('LISTEN_FAILED', `${endpoint.name}: cannot use socket fd ${fd}: ${errorMessage(error)}`, {
          cause: error,
        }),
      ),
    )
    server.listen({ fd }, () => resolve(server))
  })
}

/** Whether something accepts connections on `path` (a live server, not a stale socket). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect({ path })
    probe.on('connect', () => {
      probe.destroy()
      resolve(true)
    })
    probe.on('error', () => resolve(false))
  })
}

export interface PathListenOptions {
  /** Mode of the socket file (who may connect: only writers can). */
  readonly mode: number
  readonly dirMode?: number
}

/**
 * Creates `path` and serves the endpoint on it. A stale socket there is removed first; a
 * live one (another instance) or anything that is not a socket is an error.
 */
export async function listenOnPath(
  endpoint: ServiceEndpoint,
  path: string,
  options: PathListenOptions,
): Promise<Server> {
  mkdirSync(dirname(path), { recursive: true, mode: options.dirMode ?? 0o755 })
  let existing: ReturnType<typeof lstatSync> | undefined
  try {
    existing = lstatSync(path)
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT')
      throw new CodedError('LISTEN_FAILED', `cannot check ${path}: ${errorMessage(error)}`, { cause: error })
  }
  if (existing) {
    if (!existing.isSocket())
      throw new CodedError('LISTEN_FAILED', `${path} exists and is not a socket; not removing it`)
    if (await answers(path))
      throw new CodedError('ALREADY_SERVED', `${path} is served by another process (is the daemon already running?)`)
    unlinkSync(path)
  }
  const server = serverFor(endpoint)
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new CodedError('LISTEN_FAILED', `cannot listen on ${path}: ${errorMessage(error)}`, { cause: error })),
    )
    // The socket must never exist with a wider mode, even for an instant.
    const umask = process.umask(0o777 & ~options.mode)
    try {
      server.listen({ path }, () => resolve())
    } finally {
      process.umask(umask)
    }
  })
  chmodSync(path, options.mode)
  return server
}

/** Stops accepting now (a socket file this process created is removed); open calls go on. */
export function stopAccepting(server: Server): void {
  server.close()
}

/** Resolves when the server has stopped accepting and its last connection has closed. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}
