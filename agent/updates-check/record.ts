import { closeSync, constants, fchmodSync, mkdirSync, openSync, renameSync, fsyncSync, writeSync, unlinkSync } from 'node:fs'
import { chmod, mkdir, open, rename, rm, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/**
 * Writes of the check's marker directory. A marker is an empty file whose existence is
 * the fact: created without following a link planted in its place, mode set exactly
 * (not left to the umask). The sync variants serve the SIGTERM path, where the process
 * exits right after.
 */
const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW

export async function ensureDirectory(path: string, mode: number): Promise<void> {
  // Only a directory we create gets our mode; an existing one belongs to tmpfiles.d.
  const created = await mkdir(path, { recursive: true, mode })
  if (created !== undefined) await chmod(path, mode)
}

export async function createMarker(path: string, mode: number): Promise<void> {
  const handle = await open(path, CREATE, mode)
  try {
    await handle.chmod(mode)
  } finally {
    await handle.close()
  }
}

export function createMarkerSync(path: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true })
  const fd = openSync(path, CREATE, mode)
  try {
    fchmodSync(fd, mode)
  } finally {
    closeSync(fd)
  }
}

export async function removeMarker(path: string): Promise<void> {
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error
  })
}

const temporaryName = (path: string) => join(dirname(path), `.${basename(path)}.${process.pid}.tmp`)

/** Writes a whole small file or nothing: temporary file in the same directory, fsync, rename. */
export async function writeReport(path: string, content: string, mode: number): Promise<void> {
  const temporary = temporaryName(path)
  const handle = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, mode)
  try {
    await handle.chmod(mode)
    await handle.writeFile(content)
    await handle.sync()
    await handle.close()
    await rename(temporary, path)
  } catch (error) {
    await handle.close().catch(() => undefined)
    await rm(temporary, { force: true })
    throw error
  }
}

export function writeReportSync(path: string, content: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true })
  const temporary = temporaryName(path)
  const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, mode)
  try {
    fchmodSync(fd, mode)
    writeSync(fd, content)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  try {
    renameSync(temporary, path)
  } catch (error) {
    unlinkSync(temporary)
    throw error
  }
}
