import { defineConfig } from 'vitest/config'
// @ts-expect-error: a plain .mjs build helper without type declarations
import { shippedManifestVite } from './scripts/manifest-plugin.mjs'

export default defineConfig({
  plugins: [shippedManifestVite],
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites start real daemons and namespaces; two cores do not gain from more workers.
    maxWorkers: 2,
  },
})
