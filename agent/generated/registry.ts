import { CodedError } from '../../rpc/errors'
import type { Manifest } from '../manifest/schema'
import type { FileGenerator, GeneratedFile } from './file'
// The generators are listed in agent/features.ts.
export function collectGeneratedFiles(manifest: Manifest, generators: readonly FileGenerator[]): GeneratedFile[] {
  const files = generators.flatMap((generate) => generate(manifest))
  const seen = new Set<string>()
  for (const file of files) {
    if (seen.has(file.path)) throw new CodedError('GENERATED_FILE_CLASH', `two generators produce ${file.path}`)
    seen.add(file.path)
  }
  return files.sort((a, b) => a.path.localeCompare(b.path))
}
