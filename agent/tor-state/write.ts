import { rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { errnoCode } from '../../rpc/errors'
import { createTemporary, syncDirectory } from '../fs/atomic-write'

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
  // A random name, created exclusively: never a file or link someone left at a known name.
  const { name: temporary, handle: file } = await createTemporary(path)
  let ownerProblem: string | null = null
  try {
    await file.writeFile(data)
    if (owner !== null) {
      try {
        await file.chown(owner.uid, owner.gid)
      } catch (error) {
        ownerProblem = `cannot change the owner of ${path}: ${errnoCode(error) ?? String(error)}`
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
  await syncDirectory(dirname(path), path)
  return ownerProblem
}
