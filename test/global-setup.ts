import { execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The built bundle copied where any user can read it (see test/helpers/cli.ts). */
    agentForAnyUser: string
  }
}

/**
 * Tests run the shipped bundle as a real process: build it once before any suite. The copy
 * for unprivileged users is made here too, so its removal runs once all workers are done
 * (a worker's own exit handlers do not run).
 */
export default function setup(project: TestProject): () => void {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' })
  const dir = mkdtempSync(join(tmpdir(), 'qwa-test-bundle-'))
  const file = join(dir, 'qubes-whonix-agent.mjs')
  copyFileSync('dist/qubes-whonix-agent.mjs', file)
  chmodSync(file, 0o644)
  chmodSync(dir, 0o755)
  project.provide('agentForAnyUser', file)
  return () => rmSync(dir, { recursive: true, force: true })
}
