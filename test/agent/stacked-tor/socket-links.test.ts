import { chmod, lstat, readFile, readlink, rename, stat, symlink, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tcpEndpoint, unixEndpoint } from '../../../agent/stacked-tor/endpoint'
import { applyOwnership } from '../../../agent/stacked-tor/filesystem'
import type { ForwarderPlan } from '../../../agent/stacked-tor/plan'
import { tempRoot } from '../../helpers/sandbox'
import { serve, startForwarder } from './helpers'

const isRoot = process.getuid?.() === 0
const NOBODY = 65534
const nobody = { uid: NOBODY, gid: NOBODY, names: 'nobody:nogroup' }
const unixPlan = (path: string, targetPort: number): ForwarderPlan => ({
  name: path,
  listen: unixEndpoint(path),
  target: tcpEndpoint('127.0.0.1', targetPort),
  socket: { mode: 0o666 },
})

/** A root-only file, as /etc/shadow would be: what a swapped-in link would point at. */
async function secret(dir: string): Promise<string> {
  const file = join(dir, 'shadow')
  await writeFile(file, 'root only')
  await chmod(file, 0o600)
  return file
}

async function unchanged(file: string, uid: number): Promise<void> {
  const info = await stat(file)
  expect(info.mode & 0o7777).toBe(0o600)
  expect(info.uid).toBe(uid)
  expect(await readFile(file, 'utf8')).toBe('root only')
}

describe('the owner and mode of a Unix socket (stacked-Tor sockets in debian-tor directories)', () => {
  it.skipIf(!isRoot)('end up on the socket itself: owner given, mode 0666', async () => {
    const dir = await tempRoot()
    const path = join(dir, 'socks')
    const target = await serve((socket) => socket.end())
    const forwarder = await startForwarder(unixPlan(path, target.port), { ownership: nobody })
    expect(forwarder.status()).toMatchObject({ state: 'listening' })
    expect(forwarder.status().ownership).toBeUndefined()
    const info = await lstat(path)
    expect(info.isSocket()).toBe(true)
    expect([info.uid, info.gid, info.mode & 0o7777]).toEqual([NOBODY, NOBODY, 0o666])
  })

  it('never follow a symbolic link placed at the path before listening', async () => {
    const dir = await tempRoot()
    const file = await secret(dir)
    const path = join(dir, 'control')
    await symlink(file, path)
    const target = await serve((socket) => socket.end())
    const forwarder = await startForwarder(unixPlan(path, target.port), { ownership: nobody })
    expect(forwarder.status()).toMatchObject({ state: 'failed', reason: expect.stringContaining('not a socket') })
    expect(await readlink(path)).toBe(file)
    await unchanged(file, process.getuid?.() ?? 0)
  })

  it('never follow a symbolic link swapped in for the socket after it was bound', async () => {
    const dir = await tempRoot()
    const file = await secret(dir)
    const path = join(dir, 'socks')
    const target = await serve((socket) => socket.end())
    const forwarder = await startForwarder(unixPlan(path, target.port))
    expect(forwarder.status()).toMatchObject({ state: 'listening' })
    // What a debian-tor process could do between listen() and setting the owner and mode.
    await unlink(path)
    await symlink(file, join(dir, 'swap'))
    await rename(join(dir, 'swap'), path)
    await expect(applyOwnership(path, nobody, 0o666)).rejects.toThrow('not a socket but a symbolic link')
    await unchanged(file, process.getuid?.() ?? 0)
    expect(await readlink(path)).toBe(file)
    // A directory expected, a link found: the same.
    await expect(applyOwnership(path, nobody, 0o2755, 'directory')).rejects.toThrow('not a directory')
    await unchanged(file, process.getuid?.() ?? 0)
  })

  it('never follow a link swapped in over and over while the forwarder sets the socket up', async () => {
    const dir = await tempRoot()
    const file = await secret(dir)
    const path = join(dir, 'socks')
    const target = await serve((socket) => socket.end())
    let swapping = true
    const swapper = (async () => {
      let round = 0
      while (swapping) {
        const link = join(dir, `link-${round++}`)
        await symlink(file, link)
        await rename(link, path).catch(() => undefined)
        await new Promise((resolve) => setImmediate(resolve))
        await unlink(path).catch(() => undefined)
      }
    })()
    for (let attempt = 0; attempt < 30; attempt++) {
      const forwarder = await startForwarder(unixPlan(path, target.port), { ownership: nobody, retryMs: 1 })
      await forwarder.stop()
    }
    swapping = false
    await swapper
    await unchanged(file, process.getuid?.() ?? 0)
  })
})
