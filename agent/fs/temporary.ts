import { randomBytes } from 'node:crypto'
import { constants, opendirSync, openSync, unlinkSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { at } from './pinned'

/**
 * The temporary files of the atomic writer: `.NAME.qwa-PID-XXXXXXXXXXXX.tmp` beside the
 * file (hidden, so tor's and apt's `*.d` directory readers skip it), 48 random bits, the
 * writer's pid so that a later write can tell a killed writer's leftover from a live one's.
 */
const TEMPORARY_ATTEMPTS = 8
// No link followed, no existing file reused, never waiting on anything.
const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_NONBLOCK
// Entries looked at for leftovers: a directory of millions of names costs a bounded time.
const MAX_SCANNED = 100_000

// Keep the name within NAME_MAX (255) whatever the length of the file's own name.
const prefixOf = (name: string) => `.${name.slice(0, 200)}.qwa-`
/** A fresh temporary name for `name`. */
export const drawName = (name: string) => `${prefixOf(name)}${process.pid}-${randomBytes(6).toString('hex')}.tmp`
const taken = (error: unknown, attempt: number) =>
  (error as NodeJS.ErrnoException).code === 'EEXIST' && attempt < TEMPORARY_ATTEMPTS

/** Creates a new temporary file for `name` in the pinned directory `directory`, exclusively. */
export async function createTemporary(directory: number, name: string): Promise<{ name: string; handle: FileHandle }> {
  for (let attempt = 1; ; attempt++) {
    const temporary = drawName(name)
    try {
      return { name: temporary, handle: await open(at(directory, temporary), CREATE, 0o600) }
    } catch (error) {
      if (!taken(error, attempt)) throw error
    }
  }
}

export function createTemporarySync(directory: number, name: string): { name: string; fd: number } {
  for (let attempt = 1; ; attempt++) {
    const temporary = drawName(name)
    try {
      return { name: temporary, fd: openSync(at(directory, temporary), CREATE, 0o600) }
    } catch (error) {
      if (!taken(error, attempt)) throw error
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH'
  }
}

/** Removes the temporary files of `name` left by writers that are dead (killed during a write). */
export function removeStaleTemporaries(directory: number, name: string): void {
  // Names without a pid are an earlier version's, always a killed writer's by now.
  const pattern = new RegExp(
    `^${prefixOf(name).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:(\\d{1,10})-)?[0-9a-f]{12}\\.tmp$`,
  )
  const listing = opendirSync(at(directory))
  try {
    for (let scanned = 0; scanned < MAX_SCANNED; scanned++) {
      const entry = listing.readSync()
      if (entry === null) break
      const match = pattern.exec(entry.name)
      if (match === null || (match[1] !== undefined && alive(Number(match[1])))) continue
      try {
        unlinkSync(at(directory, entry.name))
      } catch {
        // Best effort: gone already, or something else than our file (a directory) under our name.
      }
    }
  } finally {
    listing.closeSync()
  }
}
