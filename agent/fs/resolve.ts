import { lstat, open, readlink } from 'node:fs/promises'
import type { Stats } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { CodedError } from '../../rpc/errors'
import { rootPath } from '../paths'

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

const MAX_LINKS = 40

const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException).code

/**
 * Follows `path` to a regular file (or to where one would be created). A link owned by
 * someone other than root is followed only to a file of that same owner: a user's link
 * in their home must not steer a root process into writing a system file.
 */
export async function resolveLinks(path: string, root = '/'): Promise<LinkEnd> {
  let current = path
  const linkOwners = new Set<number>()
  for (let hop = 0; hop <= MAX_LINKS; hop++) {
    let entry: Stats
    try {
      entry = await lstat(current)
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error
      if ([...linkOwners].some((uid) => uid !== 0))
        throw new CodedError('UNSAFE_LINK', `${path} is a link owned by a user that leads to no file; not following it`)
      return { target: current, existing: null }
    }
    if (entry.isSymbolicLink()) {
      linkOwners.add(entry.uid)
      const untrustedTarget = await readlink(current)
      current = isAbsolute(untrustedTarget) ? rootPath(root, untrustedTarget) : resolve(dirname(current), untrustedTarget)
      continue
    }
    if (!entry.isFile()) throw new CodedError('NOT_A_FILE', `${path}${current === path ? '' : ` (via ${current})`} is not a regular file`)
    for (const uid of linkOwners) {
      if (uid !== 0 && uid !== entry.uid)
        throw new CodedError('UNSAFE_LINK', `${path} is a link of user ${uid} to ${current}, a file of user ${entry.uid}; not following it`)
    }
    return { target: current, existing: entry }
  }
  throw new CodedError('LINK_LOOP', `${path}: more than ${MAX_LINKS} symbolic links`)
}

/**
 * Reads a regular file through its links (as `resolveLinks`), refusing more than
 * `maxBytes`. Resolves to null when the file does not exist.
 */
export async function readFileThrough(path: string, options: { readonly root?: string; readonly maxBytes: number }): Promise<{ target: string; content: Buffer } | null> {
  const end = await resolveLinks(path, options.root)
  if (end.existing === null) return null
  const handle = await open(end.target, 'r')
  try {
    const size = (await handle.stat()).size
    if (size > options.maxBytes) throw new CodedError('FILE_TOO_LARGE', `${path} is larger than ${options.maxBytes} bytes (${size})`)
    const chunks: Buffer[] = []
    let length = 0
    // The file may grow while we read: stop one byte past the bound.
    for (;;) {
      const chunk = Buffer.alloc(Math.min(64 * 1024, options.maxBytes + 1 - length))
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, length)
      if (bytesRead === 0) break
      chunks.push(chunk.subarray(0, bytesRead))
      length += bytesRead
      if (length > options.maxBytes) throw new CodedError('FILE_TOO_LARGE', `${path} is larger than ${options.maxBytes} bytes`)
    }
    return { target: end.target, content: Buffer.concat(chunks, length) }
  } finally {
    await handle.close()
  }
}

/** Whether `path` exists as anything (a dangling link counts). */
export async function pathKind(path: string): Promise<'file' | 'symlink' | 'directory' | 'other' | 'missing'> {
  try {
    const entry = await lstat(path)
    if (entry.isSymbolicLink()) return 'symlink'
    return entry.isFile() ? 'file' : entry.isDirectory() ? 'directory' : 'other'
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return 'missing'
    throw error
  }
}
