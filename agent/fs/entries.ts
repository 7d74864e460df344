import { rename, symlink, unlink } from 'node:fs/promises'
import { failed, pinForWrite, syncDirectory } from './atomic-write'
import { at, pinEntry, type PinnedEntry } from './pinned'
import { drawName } from './temporary'

/** Entries other than file contents, made and removed under the rule of `pinned.ts`. */

function pinned(path: string, options: Parameters<typeof pinEntry>[1]): PinnedEntry {
  try {
    return pinEntry(path, options)
  } catch (error) {
    throw failed(path, error)
  }
}

/** Makes the directory `path` (and its missing parents) with `mode`; an existing one is left as it is. */
export function ensureDirectory(path: string, mode: number, options: { readonly root?: string } = {}): void {
  pinned(path, { root: options.root, directoryMode: mode, directory: true }).release()
}

/** Removes the entry at `path` (a link itself, never what it leads to); a missing one is no error. */
export async function removeEntry(path: string, options: { readonly root?: string } = {}): Promise<void> {
  const entry = pinned(path, { root: options.root, replaceLink: true })
  try {
    if (entry.directory !== null)
      await unlink(at(entry.directory, entry.name)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error
      })
  } catch (error) {
    throw failed(path, error)
  } finally {
    entry.release()
  }
}

const LINK_ATTEMPTS = 8

/**
 * Puts a symbolic link to `target` at `path` whole: made under a temporary name in the
 * pinned directory, then renamed over whatever file or link was there.
 */
export async function writeLinkAtomic(
  path: string,
  target: string,
  options: { readonly root?: string; readonly directoryMode?: number } = {},
): Promise<void> {
  const entry = pinForWrite(path, { ...options, replaceLink: true })
  try {
    for (let attempt = 1; ; attempt++) {
      const temporary = drawName(entry.name)
      try {
        await symlink(target, at(entry.directory, temporary))
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST' && attempt < LINK_ATTEMPTS) continue
        throw error
      }
      await rename(at(entry.directory, temporary), at(entry.directory, entry.name)).catch(async (error: unknown) => {
        await unlink(at(entry.directory, temporary)).catch(() => undefined)
        throw error
      })
      break
    }
    await syncDirectory(entry.directory)
  } catch (error) {
    throw failed(path, error)
  } finally {
    entry.release()
  }
}
