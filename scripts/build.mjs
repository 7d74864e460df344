// Bundles the agent into one file that runs on plain `node` (18 and later) with no node_modules.
import { build } from 'esbuild'
import { chmod, writeFile } from 'node:fs/promises'
import { esmBanner, rawText } from './raw-text-plugin.mjs'
import { shippedManifestEsbuild } from './manifest-plugin.mjs'

// `--out FILE` and `--metafile FILE` (what went in: packaging lists the npm packages' licences).
const option = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined)
const outfile = option('--out') ?? 'dist/qubes-whonix-agent.mjs'
const { metafile } = await build({
  entryPoints: ['agent/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  // dbus-next's optional transports (X11 bus discovery, abstract sockets): not used by the agent.
  external: ['x11', 'usocket'],
  format: 'esm',
  target: 'node18',
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [rawText, shippedManifestEsbuild],
  banner: { js: `#!/usr/bin/env node\n${esmBanner}` },
  metafile: true,
})
await chmod(outfile, 0o755)
if (option('--metafile')) await writeFile(option('--metafile'), JSON.stringify(metafile))
