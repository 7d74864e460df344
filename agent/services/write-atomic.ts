import { mkdir, open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** Writes a whole file or nothing: a temporary file in the same directory, fsync, rename. */
export async function writeFileAtomic(path: string, content: string, options: { mode?: number; dirMode?: number } = {}): Promise<void> {
  const dir = dirname(path)
  await mkdir(dir, { recursive: true, mode: options.dirMode ?? 0o755 })
  const temporary = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`)
  const file = await open(temporary, 'wx', options.mode ?? 0o644)
  try {
    await file.writeFile(content)
    await file.sync()
    await file.close()
    await rename(temporary, path)
  } catch (error) {
    await file.close().catch(() => undefined)
    await rm(temporary, { force: true })
    throw error
  }
}
