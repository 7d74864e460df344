import { defineConfig } from 'vitest/config'
// @ts-expect-error: a plain .mjs build helper without type declarations
import { shippedManifestVite } from '../../scripts/manifest-plugin.mjs'

// `npm run test:install`: the packages installed and purged in real Debian roots (debootstrap).
// Slow (network, whole roots), so outside `npm test`; CI runs it as a step of its own.
export default defineConfig({
  plugins: [shippedManifestVite],
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/packages/**/*.slow.ts'],
    globalSetup: ['test/packages/slow-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 900_000,
    // One worker per Debian release: their downloads overlap.
    maxWorkers: 2,
  },
})
