import { spawn } from 'node:child_process'
import { watch } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { shippedManifest } from '../../../agent/features'
import { buildSimulatedQube } from '../../../agent/simulate/build'
import { PROFILES } from '../../../agent/simulate/profiles'
import { AGENT, runAgent } from '../../helpers/cli'
import { tempRoot } from '../../helpers/sandbox'

// The real replace-ips, killed with SIGKILL at random moments (steered into the rewriting) and,
// every other trial, as the first file is replaced (so a loaded machine's start-up jitter
// cannot keep every kill out of the window): every file stays old or new, and the next
// boot's run finishes the job.
const manifest = shippedManifest()
const TRIALS = 6
const EXTRA = Array.from({ length: 40 }, (_, index) => `/etc/qwa-crash/f${index}.conf`)
const CACHE_FILE = `${manifest.replaceIps.cacheDirectory}/whonix-ip-gateway`

const contentOf = (index: number, address: string) =>
  `# file ${index}\n${`SocksPort ${address}:9050 file ${index}\n`.repeat(1 + ((index * 97) % 1200))}`

async function manifestWithManyFiles(dir: string): Promise<string> {
  const document = parse(await readFile(new URL('../../../qubes.yaml', import.meta.url), 'utf8')) as {
    replaceIps: { gateway: { files: string[] } }
  }
  document.replaceIps.gateway.files.push(...EXTRA)
  const file = join(dir, 'qubes.yaml')
  await writeFile(file, stringify(document))
  return file
}

async function gatewayRoot(): Promise<string> {
  const root = await tempRoot('qwa-replace-crash-')
  await buildSimulatedQube(root, PROFILES.gateway, manifest)
  for (const [index, path] of EXTRA.entries()) {
    await mkdir(dirname(join(root, path)), { recursive: true })
    await writeFile(join(root, path), contentOf(index, manifest.whonix.addresses.gateway))
  }
  return root
}

/** Kills the run after `delayMs`, or (`null`) the moment the first of the files is replaced. */
function killedRun(root: string, config: string, delayMs: number | null): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AGENT, '--root', root, '--config', config, 'replace-ips'], {
      stdio: 'ignore',
      env: { ...process.env, PATH: '/usr/bin:/bin' },
    })
    const timer = delayMs === null ? undefined : setTimeout(() => child.kill('SIGKILL'), delayMs)
    const watcher =
      delayMs === null
        ? watch(dirname(join(root, EXTRA[0] as string)), (event, name) => {
            if (event === 'rename' && name !== null && /^f\d+\.conf$/.test(name)) child.kill('SIGKILL')
          })
        : undefined
    child.on('error', reject)
    child.on('close', () => {
      clearTimeout(timer)
      watcher?.close()
      resolve()
    })
  })
}

async function states(root: string, current: string): Promise<string[]> {
  return Promise.all(
    EXTRA.map(async (path, index) => {
      const content = await readFile(join(root, path), 'utf8').catch(() => '<missing>')
      if (content === contentOf(index, manifest.whonix.addresses.gateway)) return 'old'
      if (content === contentOf(index, current)) return 'new'
      return `${path}: neither (${content.length} bytes)`
    }),
  )
}

describe('replace-ips killed with SIGKILL', () => {
  it(`leaves old or new files, and a rerun completes them (${TRIALS} trials)`, async () => {
    const config = await manifestWithManyFiles(await tempRoot('qwa-replace-crash-config-'))
    const current = '10.137.0.8'
    // Calibrate with one full run, then steer the kill moment into the window where files change.
    const calibration = await gatewayRoot()
    const started = performance.now()
    expect((await runAgent(['--root', calibration, '--config', config, 'replace-ips'])).code).toBe(0)
    let [low, high] = [0, performance.now() - started]
    const seen = { none: 0, partial: 0, all: 0 }
    for (let trial = 0; trial < TRIALS; trial++) {
      const root = await gatewayRoot()
      const delay = trial % 2 === 0 ? low + Math.random() * (high - low) : null
      await killedRun(root, config, delay)
      const after = await states(root, current)
      expect(
        after.filter((state) => state !== 'old' && state !== 'new'),
        `trial ${trial}`,
      ).toEqual([])
      const fresh = after.filter((state) => state === 'new').length
      if (fresh === 0) [seen.none, low] = [seen.none + 1, delay ?? low]
      else if (fresh === EXTRA.length) [seen.all, high] = [seen.all + 1, delay ?? high]
      else seen.partial++
      // The saved address appears only once every file has it: a rerun still knows the old one.
      const saved = await readFile(join(root, CACHE_FILE), 'utf8').catch(() => null)
      if (saved !== null) expect(fresh, `trial ${trial}: saved before all files were rewritten`).toBe(EXTRA.length)
      const rerun = await runAgent(['--root', root, '--config', config, 'replace-ips'])
      expect(rerun.code, rerun.stderr).toBe(0)
      expect(await states(root, current)).toEqual(EXTRA.map(() => 'new'))
      expect(await readFile(join(root, CACHE_FILE), 'utf8')).toBe(current)
    }
    console.log(
      `replace-ips kill -9: ${TRIALS} trials; killed before any file ${seen.none}, mid-way ${seen.partial}, after all ${seen.all}`,
    )
    expect(seen.partial).toBeGreaterThan(0)
  }, 240_000)
})
