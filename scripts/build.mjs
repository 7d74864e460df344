// Bundles the agent into one file that runs on plain `node` (18 and later) with no node_modules.
import { build } from 'esbuild'
import { readFile } from 'node:fs/promises'
import { resolve, dirname } from 'node:path'

const rawText = {
  name: 'raw-text',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => ({
      path: resolve(args.resolveDir, args.path.slice(0, -'?raw'.length)),
      namespace: 'raw-text',
    }))
    b.onLoad({ filter: /.*/, namespace: 'raw-text' }, async (args) => ({
      contents: await readFile(args.path, 'utf8'),
      loader: 'text',
      resolveDir: dirname(args.path),
    }))
  },
}

await build({
  entryPoints: ['agent/main.ts'],
  outfile: 'dist/qubes-whonix-agent.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node18',
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [rawText],
  loader: { '.yaml': 'text' },
  banner: {
    // Bundled CommonJS dependencies (yargs, dbus-next) use require(), __dirname and __filename.
    js: [
      '#!/usr/bin/env node',
      "import { createRequire as __qwaCreateRequire } from 'node:module';",
      "import { fileURLToPath as __qwaFileURLToPath } from 'node:url';",
      'const require = __qwaCreateRequire(import.meta.url);',
      'const __filename = __qwaFileURLToPath(import.meta.url);',
      "const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
    ].join('\n'),
  },
})
