import {
  chmod,
  chown,
  lchown,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { writeFileAtomic } from '../../../agent/fs/atomic-write'
import { readFileThrough, resolveLinks } from '../../../agent/fs/resolve'
import { tempRoot } from '../../helpers/sandbox'

const isRoot = process.getuid?.() === 0
const NOBODY = 65534

describe('writeFileAtomic', () => {
  it('creates a new file with the mode asked for, and leaves no temporary file', async () => {
    const dir = await tempRoot()
    const result = await writeFileAtomic(join(dir, 'a.conf'), 'one\n', { mode: 0o600 })
    expect(result).toEqual({ target: join(dir, 'a.conf'), changed: true })
    expect(await readFile(join(dir, 'a.conf'), 'utf8')).toBe('one\n')
    expect((await stat(join(dir, 'a.conf'))).mode & 0o7777).toBe(0o600)
    expect(await readdir(dir)).toEqual(['a.conf'])
  })

  it('keeps the mode of an existing file, set-id bits included', async () => {
    const dir = await tempRoot()
    const file = join(dir, 'torrc')
    await writeFile(file, 'old')
    await chmod(file, 0o2751)
    await writeFileAtomic(file, 'new', { mode: 0o600 })
    expect((await stat(file)).mode & 0o7777).toBe(0o2751)
    expect(await readFile(file, 'utf8')).toBe('new')
  })

  it.skipIf(!isRoot)('keeps the owner and group of an existing file', async () => {
    const dir = await tempRoot()
    const file = join(dir, 'hexchat.conf')
    await writeFile(file, 'old')
    await chown(file, 1000, 1000)
    await writeFileAtomic(file, 'new')
    const after = await stat(file)
    expect([after.uid, after.gid]).toEqual([1000, 1000])
  })

  it('replaces the file (a new inode) and leaves an unchanged one alone (same inode, same mtime)', async () => {
    const dir = await tempRoot()
    const file = join(dir, 'resolv.conf')
    await writeFile(file, 'nameserver 10.152.152.10\n')
    const before = await stat(file)
    expect((await writeFileAtomic(file, 'nameserver 10.152.152.10\n')).changed).toBe(false)
    const same = await stat(file)
    expect([same.ino, same.mtimeMs]).toEqual([before.ino, before.mtimeMs])
    expect((await writeFileAtomic(file, 'nameserver 10.137.0.8\n')).changed).toBe(true)
    expect((await stat(file)).ino).not.toBe(before.ino)
  })

  it('writes through a chain of symbolic links, relative and absolute, and keeps the links', async () => {
    const root = await tempRoot()
    await mkdir(join(root, 'run/resolvconf'), { recursive: true })
    await mkdir(join(root, 'etc'))
    await writeFile(join(root, 'run/resolvconf/resolv.conf'), 'old')
    // An absolute target is taken under the root (as in a simulated qube), a relative one beside the link.
    await symlink('/run/resolvconf/resolv.conf', join(root, 'etc/resolv.conf.whonix'))
    await symlink('resolv.conf.whonix', join(root, 'etc/resolv.conf'))
    const result = await writeFileAtomic(join(root, 'etc/resolv.conf'), 'new', { root })
    expect(result.target).toBe(join(root, 'run/resolvconf/resolv.conf'))
    expect(await readFile(join(root, 'run/resolvconf/resolv.conf'), 'utf8')).toBe('new')
    expect(await readlink(join(root, 'etc/resolv.conf'))).toBe('resolv.conf.whonix')
    expect((await lstat(join(root, 'etc/resolv.conf.whonix'))).isSymbolicLink()).toBe(true)
  })

  it.skipIf(!isRoot)('creates the target of a dangling link owned by root', async () => {
    const dir = await tempRoot()
    await symlink('target', join(dir, 'link'))
    await writeFileAtomic(join(dir, 'link'), 'x')
    expect(await readFile(join(dir, 'target'), 'utf8')).toBe('x')
    expect((await lstat(join(dir, 'link'))).isSymbolicLink()).toBe(true)
  })

  it.skipIf(!isRoot)("refuses a user's link that leads to a file of someone else, or to nothing", async () => {
    const dir = await tempRoot()
    await writeFile(join(dir, 'shadow'), 'root secret 10.152.152.11')
    await symlink('shadow', join(dir, 'xchat.conf'))
    await lchown(join(dir, 'xchat.conf'), NOBODY, NOBODY)
    await expect(writeFileAtomic(join(dir, 'xchat.conf'), 'owned')).rejects.toMatchObject({ code: 'UNSAFE_LINK' })
    expect(await readFile(join(dir, 'shadow'), 'utf8')).toBe('root secret 10.152.152.11')
    await symlink('nothing-yet', join(dir, 'hexchat.conf'))
    await lchown(join(dir, 'hexchat.conf'), NOBODY, NOBODY)
    await expect(writeFileAtomic(join(dir, 'hexchat.conf'), 'x')).rejects.toMatchObject({ code: 'UNSAFE_LINK' })
    // The same user's link to the same user's file is followed.
    await writeFile(join(dir, 'mine'), 'old')
    await chown(join(dir, 'mine'), NOBODY, NOBODY)
    await symlink('mine', join(dir, 'kioslaverc'))
    await lchown(join(dir, 'kioslaverc'), NOBODY, NOBODY)
    await writeFileAtomic(join(dir, 'kioslaverc'), 'new')
    expect(await readFile(join(dir, 'mine'), 'utf8')).toBe('new')
  })

  it('refuses a directory and a link loop, touching nothing', async () => {
    const dir = await tempRoot()
    await mkdir(join(dir, 'torrc.d'))
    await expect(writeFileAtomic(join(dir, 'torrc.d'), 'x')).rejects.toMatchObject({ code: 'NOT_A_FILE' })
    await symlink('b', join(dir, 'a'))
    await symlink('a', join(dir, 'b'))
    await expect(writeFileAtomic(join(dir, 'a'), 'x')).rejects.toMatchObject({ code: 'LINK_LOOP' })
    expect((await readdir(dir)).sort()).toEqual(['a', 'b', 'torrc.d'])
  })

  it('fails cleanly when the directory is missing', async () => {
    const dir = await tempRoot()
    await expect(writeFileAtomic(join(dir, 'no/such/dir/file'), 'x')).rejects.toMatchObject({
      code: 'ATOMIC_WRITE_FAILED',
    })
  })

  it('concurrent writers of one file all succeed; the file ends whole, holding one of them', async () => {
    const dir = await tempRoot()
    const file = join(dir, 'qubes.SetDateTime')
    await writeFile(file, 'old\n')
    const contents = Array.from({ length: 40 }, (_, index) => `writer ${index} `.repeat(1000 + index) + '\n')
    const results = await Promise.allSettled(contents.map((content) => writeFileAtomic(file, content)))
    expect(results.filter((result) => result.status === 'rejected')).toEqual([])
    expect(contents).toContain(await readFile(file, 'utf8'))
    expect(await readdir(dir)).toEqual(['qubes.SetDateTime'])
  })

  it('concurrent writers of the same content to a new file all succeed', async () => {
    const dir = await tempRoot()
    const file = join(dir, 'new')
    const results = await Promise.allSettled(
      Array.from({ length: 25 }, () => writeFileAtomic(file, 'same\n', { mode: 0o640 })),
    )
    expect(results.filter((result) => result.status === 'rejected')).toEqual([])
    expect(await readFile(file, 'utf8')).toBe('same\n')
    expect((await stat(file)).mode & 0o7777).toBe(0o640)
    expect(await readdir(dir)).toEqual(['new'])
  })

  it('creates a missing directory with directoryMode when asked, and leaves an existing one as it is', async () => {
    const dir = await tempRoot()
    await writeFileAtomic(join(dir, 'state/qwa/file'), 'x', { directoryMode: 0o700 })
    expect(await readFile(join(dir, 'state/qwa/file'), 'utf8')).toBe('x')
    expect((await stat(join(dir, 'state'))).mode & 0o777).toBe(0o700)
    expect((await stat(join(dir, 'state/qwa'))).mode & 0o777).toBe(0o700)
    await chmod(join(dir, 'state/qwa'), 0o750)
    await writeFileAtomic(join(dir, 'state/qwa/file'), 'y', { directoryMode: 0o700 })
    expect((await stat(join(dir, 'state/qwa'))).mode & 0o777).toBe(0o750)
  })

  it('writes bytes exactly (no text decoding), and long names stay within NAME_MAX', async () => {
    const dir = await tempRoot()
    const name = 'n'.repeat(250)
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x0a, 0xc3])
    await writeFileAtomic(join(dir, name), bytes)
    expect((await readFile(join(dir, name))).equals(bytes)).toBe(true)
  })
})

describe('readFileThrough', () => {
  it('reads through links, says null for a missing file, and refuses files over the bound', async () => {
    const dir = await tempRoot()
    await writeFile(join(dir, 'big'), 'x'.repeat(100))
    await symlink('big', join(dir, 'link'))
    expect((await readFileThrough(join(dir, 'link'), { maxBytes: 100 }))?.content.length).toBe(100)
    expect(await readFileThrough(join(dir, 'missing'), { maxBytes: 100 })).toBeNull()
    await expect(readFileThrough(join(dir, 'link'), { maxBytes: 99 })).rejects.toMatchObject({ code: 'FILE_TOO_LARGE' })
    expect((await resolveLinks(join(dir, 'link'))).target).toBe(join(dir, 'big'))
  })
})
