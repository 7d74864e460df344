import { execFileSync } from 'node:child_process'

// Tests run the shipped bundle as a real process: build it once before any suite.
export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' })
}
