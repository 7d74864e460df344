// `import shipped from 'virtual:shipped-manifest'` gives qubes.yaml parsed at build time,
// so the program does not parse YAML on every start (esbuild and vite/vitest plugins).
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

const ID = 'virtual:shipped-manifest'
const MANIFEST = fileURLToPath(new URL('../qubes.yaml', import.meta.url))
const moduleText = () => `export default JSON.parse(${JSON.stringify(JSON.stringify(parse(readFileSync(MANIFEST, 'utf8'))))})`

export const shippedManifestEsbuild = {
  name: 'shipped-manifest',
  setup(b) {
    b.onResolve({ filter: /^virtual:shipped-manifest$/ }, () => ({ path: ID, namespace: 'shipped-manifest' }))
    b.onLoad({ filter: /.*/, namespace: 'shipped-manifest' }, () => ({ contents: moduleText(), loader: 'js', watchFiles: [MANIFEST] }))
  },
}

export const shippedManifestVite = {
  name: 'shipped-manifest',
  resolveId: (id) => (id === ID ? `\0${ID}` : undefined),
  load: (id) => (id === `\0${ID}` ? moduleText() : undefined),
}
