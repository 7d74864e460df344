// Bundles the agent into one file that runs on plain `node` (18 and later) with no node_modules.
import { build } from 'esbuild'
import { chmod } from 'node:fs/promises'
import { esmBanner, rawText } from './raw-text-plugin.mjs'
import { shippedManifestEsbuild } from './manifest-plugin.mjs'

const outfile = 'dist/qubes-whonix-agent.mjs'
await build({
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
})
await chmod(outfile, 0o755)
