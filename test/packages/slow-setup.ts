import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { buildPackages } from './debs'

declare module 'vitest' {
  export interface ProvidedContext {
    debs: Record<string, string>
  }
}

// The install tests share one build of the packages (npm run package into a temporary directory).
export default async function setup(project: TestProject): Promise<() => void> {
  const out = mkdtempSync(join(tmpdir(), 'qwa-slow-debs-'))
  project.provide('debs', await buildPackages(out))
  return () => rmSync(out, { recursive: true, force: true })
}
