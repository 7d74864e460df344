import { constants, type Stats } from 'node:fs'
import { open, rename, rm, type FileHandle } from 'node:fs/promises'
import { CodedError, errorMessage, isCodedError } from '../../rpc/errors'
import { at, pinEntry, type PinnedEntry } from './pinned'
import { readPinned } from './resolve'
import { createTemporary, removeStaleTemporaries } from './temporary'

export interface FileOwner {
  readonly uid: number
  readonly gid: number
}

export interface AtomicWriteOptions {
  /** Mode of a file created by this write; an existing file keeps its own (unless replaceLink). */
  readonly mode?: number
  /** The agent's --root: absolute link targets are taken under it. */
  readonly root?: string
  /**
   * When set, a missing directory (and its missing parents) is created with this mode
   * before the write; without it, a missing directory is an error.
   */
  readonly directoryMode?: number
  /**
   * The entry at `path` is replaced as it is: a link there is replaced, never followed,
   * and the file gets `mode` and `owner` whatever the old one had. Always written.
   */
  readonly replaceLink?: boolean
  /** Owner of the file written with replaceLink; a failure to set it is reported, not thrown. */
  readonly owner?: FileOwner
}

export interface AtomicWriteResult {
  /** The regular file written (the end of the link chain; `path` itself when no link). */
  readonly target: string
  /** False when the file already held the content and was left alone. */
  readonly changed: boolean
  /** Why `owner` could not be given to the file, when it could not. */
  readonly ownerProblem?: string
}

/** What the temporary file gets before it is renamed over the file. */
interface Attributes {
  readonly mode: number
  readonly owner: FileOwner | null
  /** An owner that must be set (an existing file's): failing is an error. */
  readonly ownerRequired: boolean
}

export function attributesOf(existing: Stats | null, options: AtomicWriteOptions): Attributes {
  if (existing !== null && options.replaceLink !== true)
    return { mode: existing.mode & 0o7777, owner: { uid: existing.uid, gid: existing.gid }, ownerRequired: true }
  return { mode: options.mode ?? 0o644, owner: options.owner ?? null, ownerRequired: false }
}

export const failed = (path: string, error: unknown) =>
  isCodedError(error)
    ? error
    : new CodedError('ATOMIC_WRITE_FAILED', `cannot write ${path}: ${errorMessage(error)}`, { cause: error })

/** The pinned directory the file goes to (see `pinned.ts` for the rule), stale temporaries of killed writers removed. */
export function pinForWrite(path: string, options: AtomicWriteOptions): PinnedEntry & { readonly directory: number } {
  let entry: PinnedEntry
  try {
    entry = pinEntry(path, {
      root: options.root,
      directoryMode: options.directoryMode,
      replaceLink: options.replaceLink,
    })
  } catch (error) {
    throw failed(path, error)
  }
  const { directory } = entry
  if (directory === null) {
    entry.release()
    throw new CodedError(
      'ATOMIC_WRITE_FAILED',
      `cannot write ${path}: a directory on the way (${entry.target}) does not exist`,
    )
  }
  return { ...entry, directory }
}

export const toBuffer = (content: string | Uint8Array) =>
  typeof content === 'string'
    ? Buffer.from(content)
    : Buffer.from(content.buffer, content.byteOffset, content.byteLength)

/**
 * Replaces a file's content so that, whatever happens (a crash, a kill -9, a power cut
 * after the call returned), the file holds either its old or its new content in full:
 *
 * - the new content goes to a temporary file in the file's pinned directory (see
 *   `temporary.ts`), is fsync'ed, then renamed over the file there, and the directory is
 *   fsync'ed so the rename itself is durable; a killed writer's leftovers are removed;
 * - an existing file keeps its mode and owner; a new one gets `mode` (default 0644);
 * - a symbolic link (such as /etc/resolv.conf) is written through, under the rule of
 *   `pinned.ts`: the file at the end of the chain is replaced and the link stays;
 * - when the file already holds exactly `content`, nothing is written;
 * - concurrent writers of one file (in one process or several) never collide: each has
 *   its own temporary file, every write succeeds and the file ends holding one of them whole.
 *
 * Errors are CodedErrors (`ATOMIC_WRITE_FAILED` and those of `pinEntry`); on error the
 * temporary file is removed and the file is untouched.
 */
export async function writeFileAtomic(
  path: string,
  content: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<AtomicWriteResult> {
  return (await prepareAtomicWrite(path, content, options)).commit()
}

/** A write done up to the rename: the new content is in its synced temporary file, the file untouched. */
export interface PreparedWrite {
  readonly target: string
  /** Renames the temporary file over the file and syncs the directory (nothing to do when unchanged). */
  commit(): Promise<AtomicWriteResult>
  /** The rename alone: readers see the new content whole; `durable` settles once the directory is synced. */
  rename(): Promise<{ readonly durable: Promise<AtomicWriteResult> }>
  /** Removes the temporary file; the file stays as it was. */
  abort(): Promise<void>
}

/**
 * The first half of `writeFileAtomic`, for a caller with a check to run before the file
 * may change: the slow part (writing and syncing the temporary file) overlaps the check.
 * The directory stays pinned until `commit`, `rename` or `abort`; the temporary name is
 * hidden, so directory readers such as Tor skip it meanwhile.
 */
export async function prepareAtomicWrite(
  path: string,
  content: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<PreparedWrite> {
  const bytes = toBuffer(content)
  const entry = pinForWrite(path, options)
  const { existing, directory, name, target } = entry
  let temporary: string | null = null
  const remove = async () => {
    if (temporary !== null) await rm(at(directory, temporary), { force: true }).catch(() => undefined)
    temporary = null
  }
  let ownerProblem: string | undefined
  try {
    if (
      options.replaceLink !== true &&
      existing !== null &&
      existing.size === bytes.length &&
      (await holds(entry, path, bytes))
    ) {
      entry.release()
      const unchanged = { target, changed: false }
      return {
        target,
        commit: () => Promise.resolve(unchanged),
        rename: () => Promise.resolve({ durable: Promise.resolve(unchanged) }),
        abort: () => Promise.resolve(),
      }
    }
    removeStaleTemporaries(directory, name)
    const created = await createTemporary(directory, name)
    temporary = created.name
    try {
      ownerProblem = await fill(created.handle, bytes, attributesOf(existing, options), path)
    } catch (error) {
      await created.handle.close().catch(() => undefined)
      throw error
    }
  } catch (error) {
    await remove()
    entry.release()
    throw failed(path, error)
  }
  const renameOver = async () => {
    try {
      await rename(at(directory, temporary as string), at(directory, name))
    } catch (error) {
      await remove()
      entry.release()
      throw failed(path, error)
    }
    const durable = syncDirectory(directory).then(
      () => ({ target, changed: true, ...(ownerProblem === undefined ? {} : { ownerProblem }) }),
      (error: unknown) => Promise.reject(failed(path, error)),
    )
    const released = durable.finally(() => entry.release())
    // Settled by the caller's await; never an unhandled rejection meanwhile.
    released.catch(() => undefined)
    return { durable: released }
  }
  const commit = async () => (await renameOver()).durable
  const abort = async () => {
    await remove()
    entry.release()
  }
  return { target, commit, rename: renameOver, abort }
}

/** Whether the file already holds `bytes` (one changed or swapped meanwhile does not: it is replaced). */
async function holds(entry: PinnedEntry, path: string, bytes: Buffer): Promise<boolean> {
  return readPinned(entry, path, bytes.length).then(
    (content) => bytes.equals(content),
    () => false,
  )
}

async function fill(
  handle: FileHandle,
  bytes: Buffer,
  attributes: Attributes,
  path: string,
): Promise<string | undefined> {
  await handle.writeFile(bytes)
  let ownerProblem: string | undefined
  // chown first: it clears set-id bits that chmod then restores.
  if (attributes.owner !== null)
    await handle.chown(attributes.owner.uid, attributes.owner.gid).catch((error: unknown) => {
      if (attributes.ownerRequired) throw error
      ownerProblem = `cannot change the owner of ${path}: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`
    })
  await handle.chmod(attributes.mode)
  await handle.sync()
  await handle.close()
  return ownerProblem
}

/** Makes a rename in the pinned directory durable. */
export async function syncDirectory(directory: number): Promise<void> {
  const handle = await open(at(directory), constants.O_RDONLY | constants.O_DIRECTORY)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
