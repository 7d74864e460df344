import { writeFileAtomic } from '../fs/atomic-write'
import { writeLinkAtomic } from '../fs/entries'
import { rootPath } from '../paths'
import type { GeneratedFile } from './file'

/**
 * Writes generated files under `outDir` as they would lie under `/` (a package's staging
 * tree): each file or link put in place whole with its exact mode, missing directories
 * made 0755, whatever was at its path replaced, under the rule of agent/fs/pinned.ts.
 */
export async function writeGeneratedFiles(outDir: string, files: readonly GeneratedFile[]): Promise<void> {
  for (const file of files) {
    const target = rootPath(outDir, file.path)
    if (file.kind === 'symlink') await writeLinkAtomic(target, file.target, { directoryMode: 0o755 })
    else await writeFileAtomic(target, file.content, { mode: file.mode, directoryMode: 0o755, replaceLink: true })
  }
}
