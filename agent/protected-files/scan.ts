import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { errnoCode, errorMessage } from '../../rpc/errors'
import { readFileThrough } from '../fs/resolve'
import { isIgnoredListFile, parseListFile, type ListFile } from './rule'

/**
 * Reads the list directories as Qubes' `grep -r` does: each directory given is followed
 * even when it is a symbolic link; inside, subdirectories are searched, symbolic links
 * are skipped, only regular files are read (hidden ones too), backup endings are not.
 */
export interface ListDirectory {
  /** System path, for reports. */
  readonly path: string
  /** Where it is read (re-rooted). */
  readonly rooted: string
}

export type DirectoryState = 'present' | 'missing' | 'not-a-directory' | 'unreadable'

export interface ListScan {
  readonly directories: readonly { readonly path: string; readonly state: DirectoryState }[]
  readonly lists: readonly ListFile[]
  /** What could not be read; the answer may then differ from Qubes' own. */
  readonly problems: readonly string[]
}

export interface ScanLimits {
  readonly ignoredEndings: readonly string[]
  readonly maxFileBytes: number
  readonly maxListFiles: number
}

const MAX_DEPTH = 16

export async function scanListDirectories(
  directories: readonly ListDirectory[],
  limits: ScanLimits,
): Promise<ListScan> {
  const lists: ListFile[] = []
  const problems: string[] = []
  const states: { path: string; state: DirectoryState }[] = []

  async function readList(rooted: string, path: string): Promise<void> {
    if (lists.length >= limits.maxListFiles) {
      problems.push(`more than ${limits.maxListFiles} list files; ${path} and later ones not read`)
      return
    }
    try {
      const read = await readFileThrough(rooted, { maxBytes: limits.maxFileBytes })
      if (read !== null) lists.push(parseListFile(path, read.content))
    } catch (error) {
      problems.push(`cannot read ${path}: ${errorMessage(error)}`)
    }
  }

  async function walk(rooted: string, path: string, depth: number): Promise<void> {
    if (depth > MAX_DEPTH) {
      problems.push(`${path}: nested deeper than ${MAX_DEPTH} directories; not read`)
      return
    }
    let entries
    try {
      entries = await readdir(rooted, { withFileTypes: true })
    } catch (error) {
      problems.push(`cannot list ${path}: ${errorMessage(error)}`)
      return
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const [childRooted, childPath] = [join(rooted, entry.name), join(path, entry.name)]
      if (entry.isDirectory()) await walk(childRooted, childPath, depth + 1)
      else if (entry.isFile() && !isIgnoredListFile(entry.name, limits.ignoredEndings))
        await readList(childRooted, childPath)
    }
  }

  for (const directory of directories) {
    let state: DirectoryState = 'present'
    try {
      const entry = await stat(directory.rooted)
      if (entry.isDirectory()) await walk(directory.rooted, directory.path, 0)
      else {
        state = 'not-a-directory'
        // grep reads a plain file given in place of a directory like any list file.
        if (entry.isFile()) await readList(directory.rooted, directory.path)
      }
    } catch (error) {
      state = errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR' ? 'missing' : 'unreadable'
      if (state === 'unreadable') problems.push(`cannot read ${directory.path}: ${errorMessage(error)}`)
    }
    states.push({ path: directory.path, state })
  }
  return { directories: states, lists, problems }
}
