import { chmod, lstat, mkdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ensureDirectory } from '../../../agent/stacked-tor/filesystem'
import { resolveOwnership, type Ownership } from '../../../agent/stacked-tor/owners'
import { shippedManifest } from '../../../agent/features'
import { rootPath } from '../../../agent/paths'
import { spawnCommand } from '../../../agent/run'
import { ensureTorState } from '../../../agent/tor-state/cookie'
import { tempRoot } from '../../helpers/sandbox'
import { recordingLog } from './helpers'

const section = shippedManifest().stackedTor
const isRoot = process.getuid?.() === 0
// Debian's tor package creates debian-tor; without it the files keep their owner and status says why.
const ownership: Ownership = await resolveOwnership(spawnCommand, section.user, section.group)

async function installation(): Promise<{ root: string; under: (path: string) => string }> {
  const root = await tempRoot()
  const under = (path: string) => rootPath(root, path)
  for (const dir of section.directories) await mkdir(under(dir.path), { recursive: true })
  return { root, under }
}

const state = (under: (path: string) => string, skip?: Map<string, string>) =>
  ensureTorState({ section, under, ownership, log: recordingLog(), ...(skip ? { skip } : {}) })

describe("Tor's control cookie, emulated", () => {
  it('is generated once, kept after, and copied with mode 0640 and group debian-tor', async () => {
    const { under } = await installation()
    const first = await state(under)
    expect(first.cookie).toBe('generated')
    const cookie = await readFile(under(section.torState.source))
    expect(cookie).toHaveLength(32)
    expect((await stat(under(section.torState.source))).mode & 0o777).toBe(0o600)
    for (const path of section.torState.copies) {
      expect(await readFile(under(path))).toEqual(cookie)
      const info = await stat(under(path))
      expect(info.mode & 0o7777).toBe(0o640)
      if (isRoot && !('error' in ownership)) expect([info.uid, info.gid]).toEqual([ownership.uid, ownership.gid])
    }
    expect(first.copies.map((copy) => copy.path)).toEqual([
      '/run/tor/control.authcookie',
      '/run/tor/control_auth_cookie',
      '/var/lib/tor/control_auth_cookie',
    ])

    const second = await state(under)
    expect(second.cookie).toBe('kept')
    expect(await readFile(under(section.torState.source))).toEqual(cookie)
    expect(await readFile(under('/run/tor/control.authcookie'))).toEqual(cookie)
  })

  it('differs between two installations', async () => {
    const [a, b] = [await installation(), await installation()]
    await state(a.under)
    await state(b.under)
    expect(await readFile(a.under(section.torState.source))).not.toEqual(
      await readFile(b.under(section.torState.source)),
    )
  })

  it('replaces a kept cookie of the wrong size', async () => {
    const { under } = await installation()
    await mkdir(dirname(under(section.torState.source)), { recursive: true })
    await writeFile(under(section.torState.source), 'short')
    expect((await state(under)).cookie).toBe('generated')
    expect(await readFile(under(section.torState.source))).toHaveLength(32)
  })

  it('replaces a symbolic link at a copy and never writes through it', async () => {
    const { root, under } = await installation()
    const victim = join(root, 'victim')
    await writeFile(victim, 'untouched')
    await symlink(victim, under('/run/tor/control.authcookie'))
    await state(under)
    expect(await readFile(victim, 'utf8')).toBe('untouched')
    expect((await lstat(under('/run/tor/control.authcookie'))).isFile()).toBe(true)
  })

  it('writes no copy into a directory found unusable', async () => {
    const { under } = await installation()
    const result = await state(under, new Map([['/run/tor', '/run/tor is a symbolic link']]))
    expect(result.copies.filter((copy) => !copy.ok).map((copy) => copy.path)).toEqual([
      '/run/tor/control.authcookie',
      '/run/tor/control_auth_cookie',
    ])
    await expect(lstat(under('/run/tor/control.authcookie'))).rejects.toMatchObject({ code: 'ENOENT' })
    expect((await lstat(under('/var/lib/tor/control_auth_cookie'))).isFile()).toBe(true)
  })
})

describe('socket directories', () => {
  it('are created with the setgid mode 2755, or corrected to it', async () => {
    const root = await tempRoot()
    const created = join(root, 'run/anon-ws-disable-stacked-tor')
    await ensureDirectory(created, 0o2755, ownership)
    expect((await stat(created)).mode & 0o7777).toBe(0o2755)
    const existing = join(root, 'run/tor')
    await mkdir(existing, { mode: 0o700 })
    await chmod(existing, 0o700)
    await ensureDirectory(existing, 0o2755, ownership)
    expect((await stat(existing)).mode & 0o7777).toBe(0o2755)
  })

  it('refuse a symbolic link in place of the directory', async () => {
    const root = await tempRoot()
    await mkdir(join(root, 'elsewhere'))
    await mkdir(join(root, 'run'))
    await symlink(join(root, 'elsewhere'), join(root, 'run/tor'))
    await expect(ensureDirectory(join(root, 'run/tor'), 0o2755, ownership)).rejects.toThrow('is not a directory')
    expect(await readlink(join(root, 'run/tor'))).toBe(join(root, 'elsewhere'))
    expect((await stat(join(root, 'elsewhere'))).mode & 0o7777).not.toBe(0o2755)
  })
})
