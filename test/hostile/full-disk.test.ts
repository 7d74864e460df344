// Root's writes on a full file system (a small tmpfs mounted inside the test's root): a
// write that does not fit fails with one line, the file keeps its old content whole and no
// temporary file stays; the real replace-ips reports it and completes once there is room.
import { execFileSync } from 'node:child_process'
import { open, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { writeFileAtomic } from '../../agent/fs/atomic-write'
import { shippedManifest } from '../../agent/features'
import { buildSimulatedQube } from '../../agent/simulate/build'
import { PROFILES } from '../../agent/simulate/profiles'
import { runAgent } from '../helpers/cli'
import { tempRoot } from '../helpers/sandbox'
import { isRoot } from './hostile'

/** A tmpfs of `size` at `dir`, unmounted when `use` is done. */
async function withTmpfs(dir: string, size: string, use: () => Promise<void>): Promise<void> {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir])
  try {
    await use()
  } finally {
    execFileSync('umount', [dir])
  }
}

/** Takes every free byte of the file system holding `dir`. */
async function fill(dir: string): Promise<string> {
  const filler = join(dir, 'filler')
  const handle = await open(filler, 'w')
  const chunk = Buffer.alloc(4096, 0x61)
  try {
    for (;;) await handle.write(chunk)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error
  } finally {
    await handle.close()
  }
  return filler
}

const temporaries = async (dir: string) =>
  (await readdir(dir, { recursive: true })).filter((name) => /\.qwa-\d+-[0-9a-f]{12}\.tmp$/.test(name))

describe.skipIf(!isRoot)('a full file system', () => {
  it('a write that does not fit: ATOMIC_WRITE_FAILED (ENOSPC), old content whole, no temporary file', async () => {
    const dir = await tempRoot('qwa-hostile-full-')
    await withTmpfs(dir, '256k', async () => {
      const file = join(dir, 'torrc')
      await writeFile(file, 'old\n')
      await fill(dir)
      await expect(writeFileAtomic(file, 'x'.repeat(64 * 1024))).rejects.toMatchObject({
        code: 'ATOMIC_WRITE_FAILED',
        message: expect.stringMatching(/^cannot write .*torrc: .*ENOSPC[^\n]*$/),
      })
      expect(await readFile(file, 'utf8')).toBe('old\n')
      expect(await temporaries(dir)).toEqual([])
    })
  })

  it('the real replace-ips: exit 1 with the reason, files old, nothing left; after room is made, done', async () => {
    const dir = await tempRoot('qwa-hostile-full-agent-')
    await withTmpfs(dir, '4m', async () => {
      const manifest = shippedManifest()
      await buildSimulatedQube(dir, PROFILES.gateway, manifest)
      const torDefaults = join(dir, 'usr/share/tor/tor-service-defaults-torrc.anondist')
      const old = await readFile(torDefaults, 'utf8')
      const filler = await fill(dir)
      const full = await runAgent(['--root', dir, 'replace-ips'])
      expect(full.code).toBe(1)
      expect(full.stdout).toMatch(/problem: .*ENOSPC/)
      expect(await readFile(torDefaults, 'utf8')).toBe(old)
      expect(await temporaries(dir)).toEqual([])
      await rm(filler)
      const roomy = await runAgent(['--root', dir, 'replace-ips'])
      expect(roomy.code, roomy.stdout).toBe(0)
      expect(await readFile(torDefaults, 'utf8')).not.toBe(old)
      expect(await readFile(torDefaults, 'utf8')).toContain(PROFILES.gateway.qubesdb['/qubes-ip'])
    })
  })
})
