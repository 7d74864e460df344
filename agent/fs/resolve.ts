import { constants, type Stats } from 'node:fs'
import { lstat, open } from 'node:fs/promises'
import { CodedError, errnoCode } from '../../rpc/errors'
import { at, pinEntry, type PinnedEntry } from './pinned'
import { READ_FLAGS, readOpened } from './read-bounded'

/**
 * Where a path really leads: its chain of symbolic links followed to the file at the end.
 * An absolute link target is taken under `root` (the agent's --root), as if chrooted
 * there, so a simulated qube's /etc/resolv.conf link stays inside the simulation.
 */
export interface LinkEnd {
  /** The path at the end of the chain (the path itself when it is no link). */
  readonly target: string
  /** The regular file there, or null when nothing exists there yet. */
  readonly existing: Stats | null
}

const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException).code

/** Where `path` leads under the rule of `pinned.ts` (UNSAFE_LINK, NOT_A_FILE, LINK_LOOP otherwise). */
export async function resolveLinks(path: string, root = '/'): Promise<LinkEnd> {
  const entry = pinEntry(path, { root })
  entry.release()
  return { target: entry.target, existing: entry.existing }
}

/**
 * Reads the regular file `entry` names in its pinned directory, refusing more than
 * `maxBytes`: the file opened must be the very one the walk checked (same inode).
 */
export async function readPinned(entry: PinnedEntry, path: string, maxBytes: number): Promise<Buffer> {
  if (entry.directory === null || entry.existing === null) throw new CodedError('NOT_A_FILE', `${path} does not exist`)
  const handle = await open(at(entry.directory, entry.name), READ_FLAGS | constants.O_NOFOLLOW).catch(
    (error: unknown) => {
      if (errnoOf(error) === 'ELOOP' || errnoOf(error) === 'ENOENT')
        throw new CodedError('PATH_CHANGED', `${path} changed while it was being read; not reading it`)
      throw error
    },
  )
  try {
    const opened = await handle.stat()
    if (!opened.isFile() || opened.dev !== entry.existing.dev || opened.ino !== entry.existing.ino)
      throw new CodedError('PATH_CHANGED', `${path} changed while it was being read; not reading it`)
    if (opened.size > maxBytes)
      throw new CodedError('FILE_TOO_LARGE', `${path} is larger than ${maxBytes} bytes (${opened.size})`)
    return await readOpened(handle, path, maxBytes)
  } finally {
    await handle.close()
  }
}

/**
 * Reads a regular file through its links (as `resolveLinks`), refusing more than
 * `maxBytes`. Resolves to null when the file does not exist.
 */
export async function readFileThrough(
  path: string,
  options: { readonly root?: string; readonly maxBytes: number },
): Promise<{ target: string; content: Buffer } | null> {
  const entry = pinEntry(path, { root: options.root })
  try {
    if (entry.existing === null) return null
    return { target: entry.target, content: await readPinned(entry, path, options.maxBytes) }
  } finally {
    entry.release()
  }
}

/** Whether `path` exists as anything (a dangling link counts). */
export async function pathKind(path: string): Promise<'file' | 'symlink' | 'directory' | 'other' | 'missing'> {
  try {
    const entry = await lstat(path)
    if (entry.isSymbolicLink()) return 'symlink'
    return entry.isFile() ? 'file' : entry.isDirectory() ? 'directory' : 'other'
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return 'missing'
    throw error
  }
}
