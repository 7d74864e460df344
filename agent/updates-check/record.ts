import { writeFileAtomic } from '../fs/atomic-write'
import { writeFileAtomicSync } from '../fs/atomic-write-sync'
import { ensureDirectory as ensurePinnedDirectory, removeEntry } from '../fs/entries'

/**
 * Writes of the check's marker directory, by the one atomic writer (agent/fs): a marker is
 * an empty file whose existence is the fact, put in place whole with its mode set exactly
 * (not left to the umask), a link planted in its place replaced, never followed. The sync
 * variants serve the SIGTERM path, where the process exits right after.
 */
export function ensureDirectory(path: string, mode: number): Promise<void> {
  // Only a directory we create gets our mode; an existing one belongs to tmpfiles.d.
  ensurePinnedDirectory(path, mode)
  return Promise.resolve()
}

// As the umask of a service leaves a directory it makes (tmpfiles.d makes this one at boot).
const DIRECTORY_MODE = 0o755

export async function createMarker(path: string, mode: number): Promise<void> {
  await writeFileAtomic(path, '', { mode, replaceLink: true })
}

export function createMarkerSync(path: string, mode: number): void {
  writeFileAtomicSync(path, '', { mode, replaceLink: true, directoryMode: DIRECTORY_MODE })
}

export async function removeMarker(path: string): Promise<void> {
  await removeEntry(path)
}

/** Writes a whole small file or nothing. */
export async function writeReport(path: string, content: string, mode: number): Promise<void> {
  await writeFileAtomic(path, content, { mode, replaceLink: true })
}

export function writeReportSync(path: string, content: string, mode: number): void {
  writeFileAtomicSync(path, content, { mode, replaceLink: true, directoryMode: DIRECTORY_MODE })
}
