import { chmod, mkdir, rm, symlink, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { rootPath } from '../paths'
import type { GeneratedFile } from './file'

/** Writes generated files under `outDir` as they would lie under `/` (a package's staging tree). */
export async function writeGeneratedFiles(outDir: string, files: readonly GeneratedFile[]): Promise<void> {
  for (const file of files) {
    const target = rootPath(outDir, file.path)
    await mkdir(dirname(target), { recursive: true })
    await rm(target, { force: true })
    if (file.kind === 'symlink') await symlink(file.target, target)
    else {
      await writeFile(target, file.content)
      await chmod(target, file.mode)
    }
  }
}
