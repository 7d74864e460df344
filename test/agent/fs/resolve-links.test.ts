import { chmod, chown, lchown, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { writeFileAtomic } from '../../../agent/fs/atomic-write'
import { readFileThrough, resolveLinks } from '../../../agent/fs/resolve'
import { tempRoot } from '../../helpers/sandbox'

const isRoot = process.getuid?.() === 0
const USER = 1000

/** The review's workstation: /home/user/.xchat2, a link of user 1000, leads to a root-only directory. */
async function workstation(): Promise<{ root: string; secret: string }> {
  const root = await tempRoot()
  await mkdir(join(root, 'home/user'), { recursive: true })
  await chown(join(root, 'home/user'), USER, USER)
  await mkdir(join(root, 'root-only'), { mode: 0o700 })
  const secret = join(root, 'root-only/xchat.conf')
  await writeFile(secret, 'root secret 10.152.152.11\n', { mode: 0o600 })
  await symlink('../../root-only', join(root, 'home/user/.xchat2'))
  await lchown(join(root, 'home/user/.xchat2'), USER, USER)
  return { root, secret }
}

describe.skipIf(!isRoot)('a link in a directory on the way (not only the last component)', () => {
  it("refuses a user's directory link to a root-only directory: nothing written, created or read there", async () => {
    const { root, secret } = await workstation()
    const path = join(root, 'home/user/.xchat2/xchat.conf')
    await expect(writeFileAtomic(path, 'owned 10.137.0.21\n', { root })).rejects.toMatchObject({
      code: 'UNSAFE_LINK',
      message: expect.stringContaining('.xchat2'),
    })
    await expect(readFileThrough(path, { root, maxBytes: 1000 })).rejects.toMatchObject({ code: 'UNSAFE_LINK' })
    await expect(writeFileAtomic(join(root, 'home/user/.xchat2/new.conf'), 'x', { root })).rejects.toMatchObject({
      code: 'UNSAFE_LINK',
    })
    expect(await readFile(secret, 'utf8')).toBe('root secret 10.152.152.11\n')
    expect(((await stat(secret)).mode & 0o7777).toString(8)).toBe('600')
    expect(await readdir(join(root, 'root-only'))).toEqual(['xchat.conf'])
  })

  it("refuses it too when the file in the root directory is the user's, and for an absolute link", async () => {
    const { root, secret } = await workstation()
    await chown(secret, USER, USER)
    await expect(writeFileAtomic(join(root, 'home/user/.xchat2/xchat.conf'), 'x', { root })).rejects.toMatchObject({
      code: 'UNSAFE_LINK',
    })
    await mkdir(join(root, 'home/user/.config'))
    await chown(join(root, 'home/user/.config'), USER, USER)
    await symlink('/root-only', join(root, 'home/user/.config/hexchat'))
    await lchown(join(root, 'home/user/.config/hexchat'), USER, USER)
    await expect(
      writeFileAtomic(join(root, 'home/user/.config/hexchat/xchat.conf'), 'x', { root }),
    ).rejects.toMatchObject({ code: 'UNSAFE_LINK' })
    expect(await readFile(secret, 'utf8')).toBe('root secret 10.152.152.11\n')
    expect(await readdir(join(root, 'root-only'))).toEqual(['xchat.conf'])
  })

  it("refuses a root-owned link in the user's directory (the user may replace it), to a root file", async () => {
    const { root, secret } = await workstation()
    await symlink('../../root-only', join(root, 'home/user/.hexchat'))
    await expect(writeFileAtomic(join(root, 'home/user/.hexchat/xchat.conf'), 'x', { root })).rejects.toMatchObject({
      code: 'UNSAFE_LINK',
    })
    expect(await readFile(secret, 'utf8')).toBe('root secret 10.152.152.11\n')
  })

  it("follows a user's directory link within the user's own files", async () => {
    const { root } = await workstation()
    const real = join(root, 'home/user/xchat-real')
    await mkdir(real)
    await chown(real, USER, USER)
    await writeFile(join(real, 'xchat.conf'), 'proxy 10.152.152.10\n')
    await chown(join(real, 'xchat.conf'), USER, USER)
    await symlink('/home/user/xchat-real', join(root, 'home/user/.xchat'))
    await lchown(join(root, 'home/user/.xchat'), USER, USER)
    const result = await writeFileAtomic(join(root, 'home/user/.xchat/xchat.conf'), 'proxy 10.137.0.8\n', { root })
    expect(result).toEqual({ target: join(real, 'xchat.conf'), changed: true })
    expect(await readFile(join(real, 'xchat.conf'), 'utf8')).toBe('proxy 10.137.0.8\n')
    expect((await stat(join(real, 'xchat.conf'))).uid).toBe(USER)
  })

  it('follows root-only links in root directories anywhere on the way, and refuses a link in a world-writable directory', async () => {
    const root = await tempRoot()
    await mkdir(join(root, 'run/resolvconf'), { recursive: true })
    await writeFile(join(root, 'run/resolvconf/resolv.conf'), 'old')
    await mkdir(join(root, 'etc'))
    await symlink('run', join(root, 'var-run'))
    await symlink('/var-run/resolvconf/resolv.conf', join(root, 'etc/resolv.conf'))
    expect((await resolveLinks(join(root, 'etc/resolv.conf'), root)).target).toBe(
      join(root, 'run/resolvconf/resolv.conf'),
    )
    const open = join(root, 'open')
    await mkdir(open)
    await chmod(open, 0o777)
    await symlink('../run/resolvconf', join(open, 'dir'))
    await expect(resolveLinks(join(open, 'dir/resolv.conf'), root)).rejects.toMatchObject({ code: 'UNSAFE_LINK' })
    // The sticky bit protects root's own link from others.
    await chmod(open, 0o1777)
    expect((await resolveLinks(join(open, 'dir/resolv.conf'), root)).target).toBe(
      join(root, 'run/resolvconf/resolv.conf'),
    )
  })
})
