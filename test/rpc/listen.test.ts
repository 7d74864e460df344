import { spawnSync } from 'node:child_process'
import { statSync, writeFileSync, existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { silentLog } from '../../rpc/call'
import { jsonHandler } from '../../rpc/json'
import { closeServer, listenOnPath, socketsFromSystemd } from '../../rpc/listen'
import { serviceEndpoint } from '../../rpc/server'
import { tempRoot } from '../helpers/sandbox'
import { jsonOf, rawCall } from './serve-helper'

const endpoint = (name: string) => serviceEndpoint({ name, handler: jsonHandler(() => 'pong') }, silentLog)

describe('socketsFromSystemd', () => {
  it('maps LISTEN_FDNAMES to descriptors from 3 and removes the variables', () => {
    const env: NodeJS.ProcessEnv = {
      LISTEN_PID: '42',
      LISTEN_FDS: '3',
      LISTEN_FDNAMES: 'whonix.Role:control:whonix.Role',
      OTHER: 'x',
    }
    expect([...socketsFromSystemd(env, 42)]).toEqual([
      ['whonix.Role', 3],
      ['control', 4],
    ])
    expect(env).toEqual({ OTHER: 'x' })
  })
  it('ignores sockets meant for another process (LISTEN_PID differs), but still removes the variables', () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: '41', LISTEN_FDS: '1', LISTEN_FDNAMES: 'a' }
    expect(socketsFromSystemd(env, 42).size).toBe(0)
    expect(env.LISTEN_FDS).toBeUndefined()
  })
  it('names unnamed sockets "unknown" and refuses a LISTEN_FDS that is not a count', () => {
    expect([...socketsFromSystemd({ LISTEN_PID: '7', LISTEN_FDS: '1' }, 7)]).toEqual([['unknown', 3]])
    expect(() => socketsFromSystemd({ LISTEN_PID: '7', LISTEN_FDS: '1; rm' }, 7)).toThrow(/not a count/)
  })
})

describe('listenOnPath', () => {
  it('creates the socket with the requested mode and its directory', async () => {
    const path = join(await tempRoot(), 'run/qubes-rpc/test.Ping')
    const server = await listenOnPath(endpoint('test.Ping'), path, { mode: 0o660 })
    expect(statSync(path).isSocket()).toBe(true)
    expect(statSync(path).mode & 0o777).toBe(0o660)
    expect(jsonOf(await rawCall(path, 'test.Ping dom0\0')).result).toBe('pong')
    await closeServer(server)
    // Closing removes a socket the process created.
    expect(existsSync(path)).toBe(false)
  })
  it('replaces a stale socket (nobody listening) left by a crash', async () => {
    const path = join(await tempRoot(), 'test.Ping')
    // A socket file with no listener: bind in a child that dies at once.
    spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`,
    ])
    expect(statSync(path).isSocket()).toBe(true)
    const server = await listenOnPath(endpoint('test.Ping'), path, { mode: 0o600 })
    expect(jsonOf(await rawCall(path, 'test.Ping dom0\0')).result).toBe('pong')
    await closeServer(server)
  })
  it('refuses to take over a socket another process serves', async () => {
    const path = join(await tempRoot(), 'test.Ping')
    const other = createServer(() => undefined).listen(path)
    await new Promise((resolve) => other.once('listening', resolve))
    await expect(listenOnPath(endpoint('test.Ping'), path, { mode: 0o600 })).rejects.toMatchObject({
      code: 'ALREADY_SERVED',
    })
    await closeServer(other)
  })
  it('never removes something that is not a socket', async () => {
    const path = join(await tempRoot(), 'test.Ping')
    writeFileSync(path, 'precious')
    await expect(listenOnPath(endpoint('test.Ping'), path, { mode: 0o600 })).rejects.toThrow(
      /not a socket; not removing/,
    )
    expect(statSync(path).isFile()).toBe(true)
  })
})
