// `npm run package [-- --out DIR]`: builds the Debian packages (default out: build/packages).
// Everything happens in a fresh temporary directory (removed afterwards), so builds running
// at the same time, or a test rebuilding dist/, never see each other's files.
import { build } from 'esbuild'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { esmBanner, rawText } from './raw-text-plugin.mjs'
import { shippedManifestEsbuild } from './manifest-plugin.mjs'

const args = process.argv.slice(2)
const out = args.length === 0 ? 'build/packages' : args.length === 2 && args[0] === '--out' ? args[1] : null
if (!out) {
  console.error('usage: npm run package [-- --out DIR]')
  process.exit(2)
}

const work = mkdtempSync(join(tmpdir(), 'qwa-package-'))
const step = (argv) => {
  const result = spawnSync(argv[0], argv.slice(1), { stdio: 'inherit' })
  if (result.status !== 0) {
    console.error(`package: ${argv.join(' ')} failed; its work directory is kept: ${work}`)
    process.exit(result.status ?? 1)
  }
}

const bundle = join(work, 'qubes-whonix-agent.mjs')
const metafile = join(work, 'agent-metafile.json')
step([process.execPath, 'scripts/build.mjs', '--out', bundle, '--metafile', metafile])
const tool = join(work, 'package-tool.mjs')
await build({
  entryPoints: ['packages-meta/build.ts'],
  outfile: tool,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['x11', 'usocket'],
  logLevel: 'warning',
  plugins: [rawText, shippedManifestEsbuild],
  banner: { js: esmBanner },
})
step([
  process.execPath,
  tool,
  '--out',
  resolve(out),
  '--bundle',
  bundle,
  '--metafile',
  metafile,
  '--work',
  join(work, 'debian-build'),
])
rmSync(work, { recursive: true, force: true })
