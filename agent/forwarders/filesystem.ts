import { chmod, chown, lstat, mkdir, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Ownership } from './owners'

/** What could not be done about ownership (not root, no such user); the rest still works. */
export type OwnershipResult = { readonly ok: true } | { readonly ok: false; readonly reason: string }

const codeOf = (error: unknown) => (error as NodeJS.ErrnoException).code ?? (error as Error).message

/** Gives `path` its owner (when known) and its mode; a failed chown is reported, not thrown. */
export async function applyOwnership(path: string, ownership: Ownership, mode: number): Promise<OwnershipResult> {
  let result: OwnershipResult = { ok: true }
  if ('error' in ownership) result = { ok: false, reason: ownership.error }
  else {
    try {
      await chown(path, ownership.uid, ownership.gid)
    } catch (error) {
      result = { ok: false, reason: `cannot give ${path} to ${ownership.names}: ${codeOf(error)}` }
    }
  }
  // After chown: chown clears the setgid bit of a directory's mode on some systems.
  await chmod(path, mode)
  return result
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
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    await mkdir(dirname(path), { recursive: true, mode: 0o755 })
    await mkdir(path, { mode: mode & 0o777 })
  }
  return applyOwnership(path, ownership, mode)
}

/** Clears the way for a Unix socket: a stale socket is removed, anything else is refused. */
export async function clearSocketPath(path: string): Promise<void> {
  let found
  try {
    found = await lstat(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw error
  }
  if (!found.isSocket()) throw new Error(`${path} exists and is not a socket; left alone`)
  await unlink(path)
}
