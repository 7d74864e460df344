import { open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

export interface FileOwner {
  readonly uid: number
  readonly gid: number
}

/**
 * Writes a whole file or nothing: a temporary file in the same directory gets the bytes,
 * its owner and mode, is fsynced, then renamed over `path` (a link there is replaced,
 * never followed). Returns why the owner could not be set, if it could not.
 */
export async function writeFileAtomic(path: string, data: Uint8Array, mode: number, owner: FileOwner | null): Promise<string | null> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`)
  await rm(temporary, { force: true })
  const file = await open(temporary, 'wx', 0o600)
  let ownerProblem: string | null = null
  try {
    await file.writeFile(data)
    if (owner !== null) {
      try {
        await file.chown(owner.uid, owner.gid)
      } catch (error) {
        ownerProblem = `cannot change the owner of ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`
      }
    }
    await file.chmod(mode)
    await file.sync()
    await file.close()
    await rename(temporary, path)
  } catch (error) {
    await file.close().catch(() => undefined)
    await rm(temporary, { force: true })
    throw error
  }
  return ownerProblem
}
