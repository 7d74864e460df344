import { lstat, readdir, readlink } from 'node:fs/promises'
import { join } from 'node:path'

// A directory tree as `/`-rooted entries: how packages and roots are compared.

export interface TreeEntry {
  /** As it lies under `/`. */
  readonly path: string
  readonly type: 'file' | 'symlink'
  readonly mode: number
  readonly target?: string
}

/** Regular files and symbolic links under `base` (directories are implied by them). */
export async function listTree(base: string, prefix = ''): Promise<TreeEntry[]> {
  const entries: TreeEntry[] = []
  for (const name of (await readdir(join(base, prefix))).sort()) {
    const relative = `${prefix}/${name}`
    const stats = await lstat(join(base, relative))
    if (stats.isDirectory()) entries.push(...(await listTree(base, relative)))
    else if (stats.isSymbolicLink())
      entries.push({ path: relative, type: 'symlink', mode: 0o777, target: await readlink(join(base, relative)) })
    else entries.push({ path: relative, type: 'file', mode: stats.mode & 0o7777 })
  }
  return entries
}
