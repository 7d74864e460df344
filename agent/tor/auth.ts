import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { open } from 'node:fs/promises'
import { CodedError, errnoCode } from '../../rpc/errors'
import { READ_FLAGS } from '../fs/read-bounded'
import type { ControlConnection } from './connection'
import { replyWords } from './syntax'

/** What PROTOCOLINFO says about authentication. */
export interface ProtocolInfo {
  readonly methods: readonly string[]
  readonly cookieFile: string | null
  readonly torVersion: string | null
}

// Tor's authentication cookie is exactly 32 bytes (control-spec, "AUTHENTICATE").
const COOKIE_BYTES = 32
const SERVER_KEY = 'Tor safe cookie authentication server-to-controller hash'
const CLIENT_KEY = 'Tor safe cookie authentication controller-to-server hash'

export async function protocolInfo(connection: ControlConnection): Promise<ProtocolInfo> {
  const reply = await connection.command('PROTOCOLINFO 1')
  let methods: string[] = []
  let cookieFile: string | null = null
  let torVersion: string | null = null
  for (const line of reply.lines) {
    const { words, keywords } = replyWords(line)
    if (words[0] === 'AUTH') {
      methods = (keywords.get('METHODS') ?? '').split(',').filter((method) => method.length > 0)
      cookieFile = keywords.get('COOKIEFILE') ?? null
    }
    if (words[0] === 'VERSION') torVersion = keywords.get('Tor') ?? null
  }
  return { methods, cookieFile, torVersion }
}

/** Reads the cookie: a regular file of exactly 32 bytes, nothing more is read. */
export async function readCookie(path: string): Promise<Buffer> {
  let handle
  try {
    // Non-blocking: a FIFO put where the cookie should be is refused below, never waited on.
    handle = await open(path, READ_FLAGS)
  } catch (error) {
    throw new CodedError(
      'TOR_COOKIE_UNREADABLE',
      `cannot read Tor's control cookie ${path}: ${errnoCode(error) ?? (error as Error).message}`,
      { cause: error },
    )
  }
  try {
    const info = await handle.stat()
    if (!info.isFile() || info.size !== COOKIE_BYTES)
      throw new CodedError('TOR_COOKIE_UNREADABLE', `Tor's control cookie ${path} is not a ${COOKIE_BYTES}-byte file`)
    const cookie = Buffer.alloc(COOKIE_BYTES)
    const { bytesRead } = await handle.read(cookie, 0, COOKIE_BYTES, 0)
    if (bytesRead !== COOKIE_BYTES)
      throw new CodedError(
        'TOR_COOKIE_UNREADABLE',
        `Tor's control cookie ${path} is shorter than ${COOKIE_BYTES} bytes`,
      )
    return cookie
  } finally {
    await handle.close()
  }
}

const hmac = (key: string, ...parts: Buffer[]) => createHmac('sha256', key).update(Buffer.concat(parts)).digest()

/** SAFECOOKIE: Tor proves it knows the cookie before we send anything derived from it. */
async function safeCookie(connection: ControlConnection, cookie: Buffer): Promise<void> {
  const clientNonce = randomBytes(32)
  const reply = await connection.command(`AUTHCHALLENGE SAFECOOKIE ${clientNonce.toString('hex')}`)
  const { keywords } = replyWords(reply.lines[0] ?? '')
  const serverHash = Buffer.from(keywords.get('SERVERHASH') ?? '', 'hex')
  const serverNonce = Buffer.from(keywords.get('SERVERNONCE') ?? '', 'hex')
  if (serverHash.length !== 32 || serverNonce.length !== 32)
    throw new CodedError('TOR_CONTROL_PROTOCOL', 'Tor sent a malformed AUTHCHALLENGE reply')
  if (!timingSafeEqual(serverHash, hmac(SERVER_KEY, cookie, clientNonce, serverNonce)))
    throw new CodedError(
      'TOR_AUTH_FAILED',
      `the control port ${connection.address} does not know Tor's cookie (not Tor, or another Tor)`,
    )
  await connection.command(`AUTHENTICATE ${hmac(CLIENT_KEY, cookie, clientNonce, serverNonce).toString('hex')}`)
}

/**
 * Authenticates with SAFECOOKIE, where the other end proves it knows Tor's cookie before
 * ours is sent; a Tor that asks for no authentication (NULL) is taken as it is. Plain
 * COOKIE is refused: it hands the cookie to whoever listens (real Tor always offers
 * SAFECOOKIE beside it). The cookie comes from `cookieFile` when given, else PROTOCOLINFO.
 */
export async function authenticate(connection: ControlConnection, cookieFile: string | null): Promise<ProtocolInfo> {
  const info = await protocolInfo(connection)
  const offers = (method: string) => info.methods.includes(method)
  if (!offers('SAFECOOKIE')) {
    if (offers('NULL')) {
      await connection.command('AUTHENTICATE')
      return info
    }
    throw new CodedError(
      'TOR_AUTH_UNSUPPORTED',
      `no SAFECOOKIE authentication on ${connection.address} (methods: ${info.methods.join(',') || 'none'}); the cookie is not sent in plain`,
    )
  }
  const path = cookieFile ?? info.cookieFile
  if (path === null)
    throw new CodedError(
      'TOR_AUTH_UNSUPPORTED',
      `Tor names no cookie file on ${connection.address} and none is configured`,
    )
  await safeCookie(connection, await readCookie(path))
  return info
}
