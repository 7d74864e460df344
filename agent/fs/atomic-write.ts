import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { CodedError, errnoCode, errorMessage } from '../../rpc/errors'
import { resolveLinks } from './resolve'

export interface AtomicWriteOptions {
  /** Mode of a file created by this write; an existing file keeps its own. */
  readonly mode?: number
  /** The agent's --root: absolute link targets are taken under it. */
  readonly root?: string
  /**
   * When set, a missing directory (and its missing parents) is created with this mode
   * before the write; without it, a missing directory is an error.
   */
  readonly directoryMode?: number
}

export interface AtomicWriteResult {
  /** The regular file written (the end of the link chain; `path` itself when no link). */
  readonly target: string
  /** False when the file already held the content and was left alone. */
  readonly changed: boolean
}

/**
 * Replaces a file's content so that, whatever happens (a crash, a kill -9, a power cut
 * after the call returned), the file holds either its old or its new content in full:
 *
 * - the new content goes to a temporary file in the same directory (`.NAME.qwa-XXXX.tmp`,
 *   hidden so tor's and apt's `*.d` directory readers skip it), is fsync'ed, then renamed
 *   over the file, and the directory is fsync'ed so the rename itself is durable;
 * - an existing file keeps its mode and owner; a new one gets `mode` (default 0644);
 * - a symbolic link (such as /etc/resolv.conf) is written through: the file at the end
 *   of the chain is replaced and the link stays (see `resolveLinks` for the rules);
 * - when the file already holds exactly `content`, nothing is written;
 * - concurrent writers of one file (in one process or several) never collide: each has
 *   its own random temporary name (a new one is drawn should it exist), every write
 *   succeeds and the file ends holding one of them whole (the last rename wins).
 *
 * Errors are CodedErrors (`ATOMIC_WRITE_FAILED` and those of `resolveLinks`); on error
 * the temporary file is removed and the file is untouched.
 */
export async function writeFileAtomic(path: string, content: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<AtomicWriteResult> {
  const bytes = typeof content === 'string' ? Buffer.from(content) : Buffer.from(content.buffer, content.byteOffset, content.byteLength)
  if (options.directoryMode !== undefined) await createDirectory(dirname(path), options.directoryMode, path)
  const { target, existing } = await resolveLinks(path, options.root)
  if (existing !== null && existing.size === bytes.length && bytes.equals(await readFile(target))) return { target, changed: false }

  const directory = dirname(target)
  let temporary: string | null = null
  try {
    const { name, handle } = await createTemporary(target)
    temporary = name
    try {
      await handle.writeFile(bytes)
      // chown first: it clears set-id bits that chmod then restores.
      if (existing !== null) await handle.chown(existing.uid, existing.gid)
      await handle.chmod(existing === null ? (options.mode ?? 0o644) : existing.mode & 0o7777)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temporary, target)
  } catch (error) {
    if (temporary !== null) await rm(temporary, { force: true }).catch(() => undefined)
    throw new CodedError('ATOMIC_WRITE_FAILED', `cannot write ${path}: ${errorMessage(error)}`, { cause: error })
  }
  await syncDirectory(directory, path)
  return { target, changed: true }
}

const TEMPORARY_ATTEMPTS = 8

/**
 * Creates a new temporary file beside `target` (`.NAME.qwa-XXXXXXXXXXXX.tmp`, 48 random
 * bits), exclusively: a name taken already (another writer, a leftover of a killed run)
 * is never reused, another is drawn.
 */
export async function createTemporary(target: string): Promise<{ name: string; handle: FileHandle }> {
  // Keep the name within NAME_MAX (255) whatever the length of the file's own name.
  const prefix = join(dirname(target), `.${basename(target).slice(0, 200)}.qwa-`)
  for (let attempt = 1; ; attempt++) {
    const name = `${prefix}${randomBytes(6).toString('hex')}.tmp`
    try {
      return { name, handle: await open(name, 'wx', 0o600) }
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST' || attempt >= TEMPORARY_ATTEMPTS) throw error
    }
  }
}

/** Creates `directory` (and its parents) with `mode` when missing. */
async function createDirectory(directory: string, mode: number, path: string): Promise<void> {
  try {
    await mkdir(directory, { recursive: true, mode })
  } catch (error) {
    throw new CodedError('ATOMIC_WRITE_FAILED', `cannot create the directory of ${path}: ${errorMessage(error)}`, { cause: error })
  }
}

/** Makes a rename in `directory` durable. */
export async function syncDirectory(directory: string, path: string): Promise<void> {
  try {
    const handle = await open(directory, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch (error) {
    throw new CodedError('ATOMIC_WRITE_FAILED', `wrote ${path} but could not sync its directory: ${errorMessage(error)}`, { cause: error })
  }
}
