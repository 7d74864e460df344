// esbuild plugin: `import text from './file?raw'` gives the file's text (vitest does the same natively).
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'

export const rawText = {
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

// Bundled CommonJS dependencies (yargs, dbus-next) use require(), __dirname and __filename.
export const esmBanner = [
  "import { createRequire as __qwaCreateRequire } from 'node:module';",
  "import { fileURLToPath as __qwaFileURLToPath } from 'node:url';",
  'const require = __qwaCreateRequire(import.meta.url);',
  'const __filename = __qwaFileURLToPath(import.meta.url);',
  "const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
].join('\n')
