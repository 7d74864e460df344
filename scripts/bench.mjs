// `npm run bench -- NAME`: bundles bench/NAME.ts (or runs bench/NAME.mjs) and runs it.
import { build } from 'esbuild'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { esmBanner, rawText } from './raw-text-plugin.mjs'
import { shippedManifestEsbuild } from './manifest-plugin.mjs'

const [name, ...rest] = process.argv.slice(2)
if (!name || !/^[a-z0-9-]+$/.test(name)) {
  console.error('usage: npm run bench -- NAME   (runs bench/NAME.ts)')
  process.exit(2)
}
spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' })
let script = `bench/${name}.mjs`
if (existsSync(`bench/${name}.ts`)) {
  script = `build/bench-${name}.mjs`
  await build({
    entryPoints: [`bench/${name}.ts`],
    outfile: script,
    bundle: true,
    platform: 'node',
    // dbus-next's optional transports (X11 bus discovery, abstract sockets): not used by the agent.
    external: ['x11', 'usocket'],
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    plugins: [rawText, shippedManifestEsbuild],
    banner: { js: esmBanner },
  })
} else if (!existsSync(script)) {
  console.error(`no benchmark bench/${name}.ts`)
  process.exit(2)
}
const result = spawnSync(process.execPath, [script, ...rest], { stdio: 'inherit' })
process.exit(result.status ?? 1)
