import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { CodedError } from '../../rpc/errors'

/**
 * The configuration files root will source, in order: each folder's `*.conf` files in byte
 * order (bash's glob order under LC_ALL=C). Sourcing runs their code as root, so a folder
 * or a file that someone other than root (or the agent's own user) could change is refused.
 */
export async function dropInFiles(dirs: readonly string[], maxBytes: number): Promise<string[]> {
  const files: string[] = []
  for (const dir of dirs) {
    const info = await stat(dir).catch((error: NodeJS.ErrnoException) =>
      error.code === 'ENOENT' || error.code === 'ENOTDIR' ? null : Promise.reject(error),
    )
    if (info === null) continue
    if (!info.isDirectory()) throw configError(`${dir} is not a directory`)
    trusted(dir, info)
    const names = (await readdir(dir))
      .filter((name) => name.endsWith('.conf'))
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    for (const name of names) {
      const path = join(dir, name)
      const file = await stat(path)
      if (!file.isFile()) throw configError(`${path} is not a regular file`)
      trusted(path, file)
      if (file.size > maxBytes) throw configError(`${path} is larger than ${maxBytes} bytes`)
      files.push(path)
    }
  }
  return files
}

function trusted(path: string, info: { uid: number; mode: number }): void {
  const self = process.geteuid?.() ?? 0
  if (info.uid !== 0 && info.uid !== self)
    throw configError(`${path} belongs to uid ${info.uid}, not root: not sourced`)
  if ((info.mode & 0o022) !== 0)
    throw configError(`${path} is writable by group or others (mode ${(info.mode & 0o777).toString(8)}): not sourced`)
}

export const configError = (message: string) => new CodedError('FIREWALL_CONFIG', message, { exitCode: 3 })
