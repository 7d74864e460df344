// Bundles the agent into one file that runs on plain `node` (18 and later) with no node_modules:
// a small ES module (scripts/program-loader.mjs) that compiles the program, a CommonJS
// function kept in a string, with V8's code cache when one matches, and the npm packages
// only some commands load in a comment at the end (scripts/cold-modules.mjs, docs/performance.md).
import { build } from 'esbuild'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { rawText } from './raw-text-plugin.mjs'
import { shippedManifestEsbuild } from './manifest-plugin.mjs'
import { bundleColdPackages, COLD_PACKAGES, coldSection } from './cold-modules.mjs'

// `--out FILE` and `--metafile FILE` (what went in: packaging lists the npm packages' licences).
const option = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined)
const outfile = option('--out') ?? 'dist/qubes-whonix-agent.mjs'
// What the program and the cold packages are bundled with.
const common = {
  bundle: true,
  platform: 'node',
  // dbus-next's optional transports (X11 bus discovery, abstract sockets): not used by the agent.
  external: ['x11', 'usocket'],
  format: 'cjs',
  target: 'node18',
  minifySyntax: true,
  // Names stay (stack traces name every function); the blanks go: V8 scans the program's
  // text at every start and holds it in memory (a third smaller: ~20 ms and ~1 MiB less).
  minifyWhitespace: true,
  legalComments: 'none',
  logLevel: 'warning',
}
const { metafile, outputFiles } = await build({
  ...common,
  entryPoints: ['agent/main.ts'],
  outfile,
  write: false,
  external: [...common.external, ...COLD_PACKAGES],
  // import() of a cold package becomes require(), which the loader answers from the bundle.
  supported: { 'dynamic-import': false },
  plugins: [rawText, shippedManifestEsbuild],
  metafile: true,
})
const cold = await bundleColdPackages(common)
const { comment, index } = coldSection(cold)
// The arguments Node gives a CommonJS module; the loader passes the same.
const program = `(function (exports, require, module, __filename, __dirname) {${outputFiles[0].text}\n})`
const buildId = createHash('sha256').update(program).update(comment).digest('hex').slice(0, 32)
const loader = await readFile(new URL('./program-loader.mjs', import.meta.url), 'utf8')
// esbuild made the folder when it wrote; with write: false, a fresh checkout has none.
await mkdir(dirname(outfile), { recursive: true })
await writeFile(
  outfile,
  `#!/usr/bin/env node\n${loader}\nrunProgram(${JSON.stringify(buildId)}, ${JSON.stringify(program)}, ${JSON.stringify(index)})\n${comment}`,
  { mode: 0o755 },
)
await chmod(outfile, 0o755)
if (option('--metafile')) {
  // One record of everything the file holds (packaging lists the bundled packages' licences).
  const merged = [metafile, ...cold.map((module) => module.metafile)]
  const inputs = Object.assign({}, ...merged.map((one) => one.inputs))
  const outputs = Object.assign({}, ...merged.map((one) => one.outputs))
  await writeFile(option('--metafile'), JSON.stringify({ inputs, outputs }))
}
// The cache for the node that builds (the tests and benches run the bundle with it); an
// installed bundle gets its own from its node at install.
const cached = spawnSync(process.execPath, [outfile, '--write-code-cache'], { stdio: 'inherit' })
if (cached.status !== 0) process.exit(cached.status ?? 1)
