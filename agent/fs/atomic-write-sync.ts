import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fsyncSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { errorMessage } from '../../rpc/errors'
import {
  attributesOf,
  failed,
  pinForWrite,
  toBuffer,
  type AtomicWriteOptions,
  type AtomicWriteResult,
} from './atomic-write'
import { at } from './pinned'
import { createTemporarySync, removeStaleTemporaries } from './temporary'

/**
 * `writeFileAtomic` for a process about to exit (a SIGTERM handler): the same rule and
 * steps, done synchronously. Never skips an unchanged file.
 */
export function writeFileAtomicSync(
  path: string,
  content: string | Uint8Array,
  options: AtomicWriteOptions = {},
): AtomicWriteResult {
  const bytes = toBuffer(content)
  const entry = pinForWrite(path, options)
  try {
    const { existing, directory, name, target } = entry
    removeStaleTemporaries(directory, name)
    const temporary = createTemporarySync(directory, name)
    const attributes = attributesOf(existing, options)
    let ownerProblem: string | undefined
    try {
      for (let written = 0; written < bytes.length;) written += writeSync(temporary.fd, bytes, written)
      if (attributes.owner !== null)
        try {
          fchownSync(temporary.fd, attributes.owner.uid, attributes.owner.gid)
        } catch (error) {
          if (attributes.ownerRequired) throw error
          ownerProblem = `cannot change the owner of ${path}: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`
        }
      fchmodSync(temporary.fd, attributes.mode)
      fsyncSync(temporary.fd)
      closeSync(temporary.fd)
      renameSync(at(directory, temporary.name), at(directory, name))
    } catch (error) {
      try {
        closeSync(temporary.fd)
      } catch {
        // Closed already.
      }
      try {
        unlinkSync(at(directory, temporary.name))
      } catch {
        // Renamed or gone already.
      }
      throw error
    }
    const handle = openSync(at(directory), constants.O_RDONLY | constants.O_DIRECTORY)
    try {
      fsyncSync(handle)
    } finally {
      closeSync(handle)
    }
    return { target, changed: true, ...(ownerProblem === undefined ? {} : { ownerProblem }) }
  } catch (error) {
    throw failed(path, error)
  } finally {
    entry.release()
  }
}
