// `import shippedJson from 'virtual:shipped-manifest'` gives qubes.yaml parsed and checked
// against the manifest's schema at build time, as JSON text (esbuild and vite/vitest plugins):
// the program neither parses YAML nor runs the schema's checks for its own manifest at every start.
import { build } from 'esbuild'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

const ID = 'virtual:shipped-manifest'
const MANIFEST = fileURLToPath(new URL('../qubes.yaml', import.meta.url))
const SCHEMA = fileURLToPath(new URL('../agent/manifest-schema.ts', import.meta.url))

/** The schema's checker, bundled and loaded here (agent/manifest-schema.ts is TypeScript). */
async function manifestSchema() {
  const { outputFiles } = await build({
    entryPoints: [SCHEMA],
    bundle: true,
    write: false,
    format: 'cjs',
    platform: 'node',
    logLevel: 'warning',
  })
  const module = { exports: {} }
  new Function('module', 'exports', 'require', outputFiles[0].text)(module, module.exports, createRequire(SCHEMA))
  return module.exports.manifestSchema
}

async function moduleText() {
  const check = await manifestSchema()
  let checked
  try {
    checked = check(parse(readFileSync(MANIFEST, 'utf8')), [])
  } catch (error) {
    throw new Error(`qubes.yaml: ${error.at?.length > 0 ? `${error.at.join('.')}: ` : ''}${error.message}`, {
      cause: error,
    })
  }
  return `export default ${JSON.stringify(JSON.stringify(checked))}`
}

export const shippedManifestEsbuild = {
  name: 'shipped-manifest',
  setup(b) {
    b.onResolve({ filter: /^virtual:shipped-manifest$/ }, () => ({ path: ID, namespace: 'shipped-manifest' }))
    b.onLoad({ filter: /.*/, namespace: 'shipped-manifest' }, async () => ({
      contents: await moduleText(),
      loader: 'js',
      watchFiles: [MANIFEST],
    }))
  },
}

export const shippedManifestVite = {
  name: 'shipped-manifest',
  resolveId: (id) => (id === ID ? `\0${ID}` : undefined),
  load: (id) => (id === `\0${ID}` ? moduleText() : undefined),
}
