/**
 * THE RULE FOR ROOT'S FILES. Every file the agent (root) writes, and every file it reads
 * at a path someone else could change, goes through this module:
 *
 * - Every directory on the way is pinned: opened `O_PATH|O_NOFOLLOW|O_DIRECTORY`, checked
 *   on that descriptor (fstat), and the next name is looked up in that very directory
 *   through `/proc/self/fd/N/NAME` (the kernel resolves it in the pinned directory, not
 *   at its old path). A user renaming or exchanging (`renameat2(RENAME_EXCHANGE)`) a
 *   directory or link of theirs after the check changes nothing: the temporary file is
 *   created, written and renamed, and the directory synced, in the pinned directory.
 * - A link is followed only when root alone could have made it, or, when a user U could
 *   (their link, or a link in their directory), only into U's own directories and files;
 *   a link in a directory several users may change is never followed (`steerer.ts`).
 * - Nothing is opened that could block: entries are looked at with lstat, files opened
 *   `O_NONBLOCK|O_NOFOLLOW` and read only when fstat says they are the regular file the
 *   walk checked (a FIFO, a device or a swapped file is refused).
 * - Temporary files are created exclusively (`O_CREAT|O_EXCL|O_NOFOLLOW`) under a name
 *   that carries the writer's pid; those of dead writers are removed on the next write of
 *   the same file.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readlinkSync,
  chmodSync,
  type Stats,
} from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import { CodedError } from '../../rpc/errors'
import { rootPath } from '../paths'
import { linkSteerer } from './steerer'

// Linux's O_PATH (x86_64, arm64 and most others); Node does not export it.
export const O_PATH = 0o10000000
const PIN = O_PATH | constants.O_NOFOLLOW | constants.O_DIRECTORY

/** `name` inside the directory `fd` holds, as the kernel finds it now. */
export const at = (fd: number, name?: string): string =>
  name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`

interface Step {
  readonly fd: number
  readonly path: string
  readonly stats: Stats
}

export interface PinOptions {
  /** The agent's --root: absolute link targets are taken under it. */
  readonly root?: string | undefined
  /** Missing directories on the way are created with this mode (none followed through a user's link). */
  readonly directoryMode?: number | undefined
  /** A link as the last component is the entry itself (to be replaced), not followed. */
  readonly replaceLink?: boolean | undefined
  /** The entry is a directory, created with directoryMode when missing. */
  readonly directory?: boolean | undefined
}

/** Where a path leads, its directory held open: release() when done. */
export interface PinnedEntry {
  /** The pinned directory holding the entry, or null when a directory on the way is missing. */
  readonly directory: number | null
  readonly name: string
  /** The entry's path (for messages and results). */
  readonly target: string
  /** The regular file there (lstat), or null when there is none (or a link to replace). */
  readonly existing: Stats | null
  release(): void
}

const MAX_LINKS = 40
const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException).code
const componentsOf = (path: string) => path.split('/').filter((name) => name !== '' && name !== '.')

/** The directory `name` pinned, or null when it is something else (a link, a file) or nothing. */
function tryPin(fd: number | null, name: string, path: string): Step | null {
  let pinned: number
  try {
    pinned = openSync(fd === null ? '/' : at(fd, name), PIN)
  } catch (error) {
    if (errnoOf(error) === 'ENOTDIR' || errnoOf(error) === 'ELOOP' || errnoOf(error) === 'ENOENT') return null
    throw error
  }
  return { fd: pinned, path, stats: fstatSync(pinned) }
}

function pin(fd: number | null, name: string, path: string): Step {
  const step = tryPin(fd, name, path)
  // Checked as a directory a moment ago: someone swapped it since.
  if (step === null) throw new CodedError('PATH_CHANGED', `${path} changed while it was being opened; not using it`)
  return step
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return null
    throw error
  }
}

/**
 * Follows `path` one component at a time from `/`, each directory pinned, to the entry
 * it names (see the rule above and `linkSteerer`): past a link user U could have made,
 * directories must be root's or U's, the directory holding the file (reached through the
 * link) and the file U's, and nothing may be created; otherwise UNSAFE_LINK.
 */
export function pinEntry(path: string, options: PinOptions = {}): PinnedEntry {
  const stack: Step[] = [pin(null, '/', '/')]
  const release = () => {
    for (const step of stack.splice(0)) closeSync(step.fd)
  }
  try {
    return walk(path, options, stack, release)
  } catch (error) {
    release()
    throw error
  }
}

function walk(path: string, options: PinOptions, stack: Step[], release: () => void): PinnedEntry {
  let todo = componentsOf(resolve(path))
  let hops = 0
  let steerer: number | null = null
  let via = ''
  // Whether the current directory was reached through that link (not the one holding it).
  let reached = false
  const moved = () => {
    if (steerer !== null) reached = true
  }
  const top = () => stack[stack.length - 1]!
  const descend = (step: Step) => {
    stack.push(step)
    moved()
    if (steerer !== null && step.stats.uid !== 0 && step.stats.uid !== steerer)
      throw unsafe(`leading through ${step.path}, a directory of user ${step.stats.uid}`)
  }
  const unsafe = (why: string) =>
    new CodedError(
      'UNSAFE_LINK',
      `${path}: ${via} is a link that user ${steerer} could have made, ${why}; not following it`,
    )
  const result = (directory: number | null, name: string, target: string, existing: Stats | null): PinnedEntry => ({
    directory,
    name,
    target,
    existing,
    release,
  })

  while (todo.length > 0) {
    const name = todo.shift()!
    const current = top()
    if (name === '..') {
      if (stack.length > 1) closeSync(stack.pop()!.fd)
      moved()
      if (todo.length === 0) throw new CodedError('NOT_A_FILE', `${path} (via ${top().path}) is not a regular file`)
      continue
    }
    const next = join(current.path, name)
    // Most names on the way are plain directories: pinned at once, looked at only otherwise.
    const direct = todo.length > 0 ? tryPin(current.fd, name, next) : null
    if (direct !== null) {
      descend(direct)
      continue
    }
    let entry = lstatOrNull(at(current.fd, name))
    if (
      entry === null &&
      (todo.length > 0 || options.directory === true) &&
      options.directoryMode !== undefined &&
      steerer === null
    ) {
      makeDirectory(current.fd, name, options.directoryMode, next)
      entry = lstatSync(at(current.fd, name))
    }
    if (entry === null) {
      if (steerer !== null) throw unsafe(`leading to ${next}, which does not exist`)
      return result(todo.length === 0 ? current.fd : null, name, join(next, ...todo), null)
    }
    if (entry.isSymbolicLink() && !(options.replaceLink === true && todo.length === 0)) {
      if (++hops > MAX_LINKS) throw new CodedError('LINK_LOOP', `${path}: more than ${MAX_LINKS} symbolic links`)
      const who = linkSteerer(entry, current.stats)
      if (who === 'anyone')
        throw new CodedError(
          'UNSAFE_LINK',
          `${path}: ${next} is a link in a directory that users other than root may change; not following it`,
        )
      if (who !== null && steerer !== null && steerer !== who)
        throw unsafe(`leading to ${next}, a link that user ${who} could have made`)
      if (who !== null && steerer === null) {
        steerer = who
        via = next
      }
      const untrustedTarget = readLink(current.fd, name, next)
      if (isAbsolute(untrustedTarget)) {
        while (stack.length > 1) closeSync(stack.pop()!.fd)
        moved()
        todo = [...componentsOf(rootPath(resolve(options.root ?? '/'), untrustedTarget)), ...todo]
      } else todo = [...componentsOf(untrustedTarget), ...todo]
      continue
    }
    if (todo.length > 0) {
      if (!entry.isDirectory()) throw new CodedError('NOT_A_DIRECTORY', `${path}: ${next} is not a directory`)
      descend(pin(current.fd, name, next))
      continue
    }
    if (options.directory === true) {
      if (!entry.isDirectory())
        throw new CodedError('NOT_A_DIRECTORY', `${path}${next === path ? '' : ` (via ${next})`} is not a directory`)
      return result(current.fd, name, next, null)
    }
    if (entry.isSymbolicLink()) return result(current.fd, name, next, null)
    if (!entry.isFile())
      throw new CodedError('NOT_A_FILE', `${path}${next === path ? '' : ` (via ${next})`} is not a regular file`)
    if (steerer !== null) {
      if (entry.uid !== steerer) throw unsafe(`leading to ${next}, a file of user ${entry.uid}`)
      if (reached && current.stats.uid !== steerer)
        throw unsafe(`leading into ${current.path}, a directory of user ${current.stats.uid}`)
    }
    return result(current.fd, name, next, entry)
  }
  throw new CodedError('NOT_A_FILE', `${path} is not a regular file`)
}

function readLink(fd: number, name: string, path: string): string {
  try {
    return readlinkSync(at(fd, name))
  } catch (error) {
    // A link a moment ago (lstat): someone replaced it since.
    if (errnoOf(error) === 'EINVAL' || errnoOf(error) === 'ENOENT')
      throw new CodedError('PATH_CHANGED', `${path} changed while it was being followed; not using it`)
    throw error
  }
}

function makeDirectory(fd: number, name: string, mode: number, path: string): void {
  try {
    mkdirSync(at(fd, name), mode)
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return
    throw new CodedError(
      'CANNOT_CREATE_DIRECTORY',
      `cannot create the directory ${path}: ${errnoOf(error) ?? String(error)}`,
      { cause: error },
    )
  }
  // The umask may have taken bits away; the new directory gets exactly `mode`.
  const made = openSync(at(fd, name), PIN)
  try {
    chmodSync(at(made), mode)
  } finally {
    closeSync(made)
  }
}
