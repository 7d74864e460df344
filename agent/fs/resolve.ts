import { lstat, open, readlink } from 'node:fs/promises'
import { constants, type Stats } from 'node:fs'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { CodedError, errnoCode } from '../../rpc/errors'
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


const componentsOf = (path: string) => path.split('/').filter((name) => name !== '' && name !== '.')

/**
 * Who other than root could have put the link `entry` where it is: its owner, or the
 * owner of the directory holding it (who may replace any entry there). A directory that a
 * group other than root's or everyone may write to (without the sticky bit protecting
 * root's own link) lets anyone do it: 'anyone'. Null when only root could.
 */
function linkSteerer(entry: Stats, directory: Stats): number | 'anyone' | null {
  const protectedBySticky = (directory.mode & 0o1000) !== 0 && entry.uid === 0
  if ((directory.mode & 0o002) !== 0 && !protectedBySticky) return 'anyone'
  if ((directory.mode & 0o020) !== 0 && directory.gid !== 0 && !protectedBySticky) return 'anyone'
  const users = new Set([entry.uid, directory.uid].filter((uid) => uid !== 0))
  if (users.size > 1) return 'anyone'
  return users.size === 1 ? [...users][0]! : null
}

/**
 * Follows `path` to a regular file (or to where one would be created), one component at
 * a time, so a link is seen wherever it is: in the last component or in any directory on
 * the way (a user's `~/.xchat2` linked to a root-only directory).
 *
 * The rule: a link that someone other than root could have made (owned by a user, or in a
 * directory a user may write to) must not steer a root process into writing or reading a
 * system file, nor into creating files in a system directory. Past such a link of user U,
 * directories gone through must belong to root or U, the directory holding the file (when
 * reached through the link) and the file itself to U; anything else (root's directory,
 * another user's file, a file that does not exist yet) is refused as UNSAFE_LINK. A link in
 * a directory that several users may write to (not protected by the sticky bit) is never
 * followed. Links only root could have made (`/etc/resolv.conf`) are followed anywhere.
 */
export async function resolveLinks(path: string, root = '/'): Promise<LinkEnd> {
  let done = '/'
  let todo = componentsOf(resolve(path))
  let hops = 0
  // The user whose link was followed (`via`); later steps must stay within their files.
  let steerer: number | null = null
  let via = ''
  // Whether `done` was reached through that link (not the directory holding the link).
  let reached = false
  const unsafe = (why: string) => new CodedError('UNSAFE_LINK', `${path}: ${via || path} is a link that user ${steerer} could have made, ${why}; not following it`)
  const move = (to: string) => {
    done = to
    if (steerer !== null) reached = true
  }
  while (todo.length > 0) {
    const name = todo.shift()!
    if (name === '..') {
      // `done` holds no link, so its parent is what `..` names.
      move(dirname(done))
      if (todo.length === 0) throw new CodedError('NOT_A_FILE', `${path} (via ${done}) is not a regular file`)
      continue
    }
    const next = join(done, name)
    let entry: Stats
    try {
      entry = await lstat(next)
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw error
      if (steerer !== null) throw unsafe(`leading to ${next}, which does not exist`)
      return { target: join(next, ...todo), existing: null }
    }
    if (entry.isSymbolicLink()) {
      if (++hops > MAX_LINKS) throw new CodedError('LINK_LOOP', `${path}: more than ${MAX_LINKS} symbolic links`)
      const who = linkSteerer(entry, await lstat(done))
      if (who === 'anyone') throw new CodedError('UNSAFE_LINK', `${path}: ${next} is a link in a directory that users other than root may change; not following it`)
      if (who !== null && steerer !== null && steerer !== who) throw unsafe(`leading to ${next}, a link that user ${who} could have made`)
      if (who !== null && steerer === null) {
        steerer = who
        via = next
      }
      const untrustedTarget = await readlink(next)
      if (isAbsolute(untrustedTarget)) {
        move('/')
        todo = [...componentsOf(rootPath(resolve(root), untrustedTarget)), ...todo]
      } else todo = [...componentsOf(untrustedTarget), ...todo]
      continue
    }
    if (todo.length > 0) {
      if (!entry.isDirectory()) throw new CodedError('NOT_A_FILE', `${path}: ${next} is not a directory`)
      if (steerer !== null && entry.uid !== 0 && entry.uid !== steerer) throw unsafe(`leading through ${next}, a directory of user ${entry.uid}`)
      move(next)
      continue
    }
    if (!entry.isFile()) throw new CodedError('NOT_A_FILE', `${path}${next === path ? '' : ` (via ${next})`} is not a regular file`)
    if (steerer !== null) {
      if (entry.uid !== steerer) throw unsafe(`leading to ${next}, a file of user ${entry.uid}`)
      const holder = await lstat(done)
      if (reached && holder.uid !== steerer) throw unsafe(`leading into ${done}, a directory of user ${holder.uid}`)
    }
    return { target: next, existing: entry }
  }
  throw new CodedError('NOT_A_FILE', `${path} is not a regular file`)
}

/**
 * Reads a regular file through its links (as `resolveLinks`), refusing more than
 * `maxBytes`. Resolves to null when the file does not exist.
 */
export async function readFileThrough(path: string, options: { readonly root?: string; readonly maxBytes: number }): Promise<{ target: string; content: Buffer } | null> {
  const end = await resolveLinks(path, options.root)
  if (end.existing === null) return null
  // No link followed at the end, and the very file resolveLinks checked (not one swapped in since).
  const handle = await open(end.target, constants.O_RDONLY | constants.O_NOFOLLOW)
  try {
    const opened = await handle.stat()
    if (opened.dev !== end.existing.dev || opened.ino !== end.existing.ino) throw new CodedError('UNSAFE_LINK', `${path} changed while it was being read; not reading it`)
    const size = opened.size
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
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return 'missing'
    throw error
  }
}
