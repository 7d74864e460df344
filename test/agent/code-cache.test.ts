import { spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, readFileSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { AGENT, runAgent } from '../helpers/cli'
import { tempRoot } from '../helpers/sandbox'

/** A copy of the built bundle in a temp directory, with a simulated gateway to ask. */
async function bundleCopy(): Promise<{ bundle: string; cache: string; ask: () => ReturnType<typeof spawnSync> }> {
  const dir = await tempRoot()
  const bundle = join(dir, 'qubes-whonix-agent.mjs')
  copyFileSync(AGENT, bundle)
  const root = join(dir, 'qube')
  expect(spawnSync(process.execPath, [bundle, '--root', root, 'simulate', '--as', 'gateway']).status).toBe(0)
  // Bounded: a start that blocked on the cache file would fail here rather than hang.
  const ask = () =>
    spawnSync(process.execPath, [bundle, '--root', root, 'role', '--json'], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { PATH: '/usr/bin:/bin' },
    })
  return { bundle, cache: `${bundle}.code-cache`, ask }
}

const write = (bundle: string) => spawnSync(process.execPath, [bundle, '--write-code-cache'], { encoding: 'utf8' })

describe('the code cache beside the bundle', () => {
  it('is written for this build and this node, and the bundle answers the same with it as without', async () => {
    const { bundle, cache, ask } = await bundleCopy()
    const without = ask()
    expect(without.status, String(without.stderr)).toBe(0)
    const written = write(bundle)
    expect(written.status, written.stderr).toBe(0)
    expect(written.stdout).toBe('')
    const header = readFileSync(cache).subarray(0, 200).toString('latin1').split('\n')[0]
    expect(header).toMatch(
      new RegExp(`^qubes-whonix-agent code cache [0-9a-f]{32} ${process.version} ${process.arch}$`),
    )
    const withCache = ask()
    expect(withCache.status, String(withCache.stderr)).toBe(0)
    expect(withCache.stdout).toBe(without.stdout)
  })

  it.each([
    [
      'a cache of another build',
      (cache: string) =>
        writeFileSync(
          cache,
          readFileSync(cache)
            .toString('latin1')
            .replace(/cache [0-9a-f]{32}/, `cache ${'0'.repeat(32)}`),
          'latin1',
        ),
    ],
    [
      'a cache of another node',
      (cache: string) =>
        writeFileSync(cache, readFileSync(cache).toString('latin1').replace(process.version, 'v0.0.1'), 'latin1'),
    ],
    [
      'a cache with corrupt V8 data',
      (cache: string) =>
        writeFileSync(cache, Buffer.concat([readFileSync(cache).subarray(0, 200), Buffer.alloc(4096, 0x41)])),
    ],
    ['a cache writable by others', (cache: string) => chmodSync(cache, 0o666)],
    [
      'a link to a good cache in its place',
      (cache: string) => (renameSync(cache, `${cache}.real`), symlinkSync(`${cache}.real`, cache)),
    ],
    [
      'a FIFO in its place',
      (cache: string) => (unlinkSync(cache), expect(spawnSync('mkfifo', [cache]).status).toBe(0)),
    ],
  ])('%s is not used: the bundle still answers the same', async (_what, spoil) => {
    const { bundle, cache, ask } = await bundleCopy()
    expect(write(bundle).status).toBe(0)
    const good = ask()
    spoil(cache)
    const spoiled = ask()
    expect(spoiled.status, String(spoiled.stderr)).toBe(0)
    expect(spoiled.stdout).toBe(good.stdout)
  })

  it('a user who cannot write beside the bundle gets one line and exit 1', async () => {
    if (process.getuid?.() !== 0) return console.warn('skipping: needs root to switch to nobody')
    const run = await runAgent(['--write-code-cache'], { asUser: 65534 })
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^qubes-whonix-agent: cannot write the code cache \S+: EACCES[^\n]*\n$/)
  })
})
