import { constants } from 'node:fs'
import { chmod, chown, lstat, mkdir, open, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { errnoCode, errorMessage } from '../../rpc/errors'
import type { Ownership } from './owners'

/** What could not be done about ownership (not root, no such user); the rest still works. */
export type OwnershipResult = { readonly ok: true } | { readonly ok: false; readonly reason: string }

const codeOf = (error: unknown) => errnoCode(error) ?? errorMessage(error)

// Linux's O_PATH (the same value on x86, arm and arm64; Node does not export it).
const O_PATH = 0o10000000

/**
 * Gives `path` its owner (when known) and its mode; a failed chown is reported, not thrown.
 * No symbolic link is ever followed: the directory holding `path` may belong to another
 * user (debian-tor owns /run/tor), who could swap a socket for a link to any file. The
 * file itself is pinned first (O_PATH | O_NOFOLLOW: a link opens as the link), checked to
 * be of the `kind` expected, then changed through /proc/self/fd, which reaches that very
 * inode whatever happens to the name meanwhile (as glibc's fchmodat(AT_SYMLINK_NOFOLLOW)
 * does; fchmod on a socket's own fd would not change the file bound in the directory).
 */
export async function applyOwnership(
  path: string,
  ownership: Ownership,
  mode: number,
  kind: 'socket' | 'directory' = 'socket',
): Promise<OwnershipResult> {
  const handle = await open(path, O_PATH | constants.O_NOFOLLOW)
  try {
    const found = await handle.stat()
    const fits = kind === 'socket' ? found.isSocket() : found.isDirectory()
    if (!fits)
      throw new Error(`${path} is not a ${kind}${found.isSymbolicLink() ? ' but a symbolic link' : ''}; left alone`)
    const pinned = `/proc/self/fd/${handle.fd}`
    let result: OwnershipResult = { ok: true }
    if ('error' in ownership) result = { ok: false, reason: ownership.error }
    else {
      try {
        await chown(pinned, ownership.uid, ownership.gid)
      } catch (error) {
        result = { ok: false, reason: `cannot give ${path} to ${ownership.names}: ${codeOf(error)}` }
      }
    }
    // After chown: chown clears the setgid bit of a directory's mode on some systems.
    await chmod(pinned, mode)
    return result
  } finally {
    await handle.close()
  }
}

/**
 * A directory with this mode and owner. A symbolic link or anything else in its place is
 * an error: following it would put sockets (or the cookie) somewhere else.
 */
export async function ensureDirectory(path: string, mode: number, ownership: Ownership): Promise<OwnershipResult> {
  try {
    const found = await lstat(path)
    if (!found.isDirectory()) throw new Error(`${path} exists and is not a directory`)
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error
    await mkdir(dirname(path), { recursive: true, mode: 0o755 })
    await mkdir(path, { mode: mode & 0o777 })
  }
  return applyOwnership(path, ownership, mode, 'directory')
}

/** Clears the way for a Unix socket: a stale socket is removed, anything else is refused. */
export async function clearSocketPath(path: string): Promise<void> {
  let found
  try {
    found = await lstat(path)
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return
    throw error
  }
  if (!found.isSocket()) throw new Error(`${path} exists and is not a socket; left alone`)
  await unlink(path)
}
