import { spawnSync } from 'node:child_process'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { shippedManifest } from '../../../agent/features'
import { listedIn, protectedPaths } from '../../../agent/protected-files/rule'
import { scanListDirectories } from '../../../agent/protected-files/scan'
import { requirePart } from '../../helpers/parts'
import { tempRoot } from '../../helpers/sandbox'

const { protectedFiles } = shippedManifest()
const grep = requirePart('grep')

/** Qubes' own test, as its scripts run it (is_protected_file in qubes-core-agent-linux). */
function qubesSaysProtected(path: string, directories: readonly string[]): boolean {
  const excludes = protectedFiles.ignoredEndings.map((ending) => `--exclude=*${ending}`)
  return (
    spawnSync(grep.path ?? 'grep', ['-Fxrq', ...excludes, '--', path, ...directories], { stdio: 'ignore' }).status === 0
  )
}

async function put(path: string, content: string | Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, content)
}

const CANDIDATES = [
  '/etc/hostname',
  '/etc/hostname.anondist',
  '/etc/hostname.whonix',
  '/etc/hostname.kicksecure',
  '/etc/host',
  '/etc/host*',
  '/etc/hosts',
  '/etc/hosts.bak',
  '/etc/hosts.whonix',
  '/etc/hosts.kicksecure',
  '/etc/hosts.anondist',
  '/etc/timezone',
  '/etc/timezone.whonix',
  '/etc/timezone.kicksecure',
  '/etc/timezone.anondist',
  '/etc/localtime',
  '/etc/localtime.whonix',
  '/etc/localtime.anondist',
  '/etc/localtime.kicksecure',
  '/etc/resolv.conf',
  '/etc/resolv.conf.whonix',
  '/etc/resolv.conf.kicksecure',
  '/etc/resolv.conf.anondist',
  '/etc/resolv',
]

/** Two list directories full of the cases that trip a naive reading. */
async function edgeCases(root: string): Promise<{ etc: string; rw: string }> {
  const etc = join(root, 'etc/qubes/protected-files.d')
  const rw = join(root, 'rw/config/protected-files.d')
  await put(join(etc, 'exact.conf'), '/etc/hostname\n')
  await put(join(etc, 'trailing-space.conf'), '/etc/hosts \n')
  await put(join(etc, 'longer.conf'), '/etc/hosts.bak\n /etc/timezone\n/etc/resolv\n')
  await put(join(etc, 'glob.conf'), '/etc/host*\n/etc/local*\n')
  await put(join(etc, 'backup.conf~'), '/etc/localtime\n')
  await put(join(etc, 'a.rpmsave'), '/etc/resolv.conf\n')
  await put(join(etc, 'a.rpmnew'), '/etc/resolv.conf\n')
  await put(join(etc, 'a.rpmold'), '/etc/resolv.conf\n')
  await put(join(etc, 'not-a-backup.rpmsave.conf'), '/etc/timezone.anondist\n')
  await put(join(etc, 'sub/deeper/list'), '/etc/resolv.conf.whonix\n')
  await put(join(etc, 'dir~/inside'), '/etc/resolv.conf.kicksecure\n')
  await put(join(etc, '.hidden'), '/etc/hostname.anondist\n')
  await put(join(etc, 'crlf.conf'), '/etc/timezone.whonix\r\n/etc/hosts.anondist\r\n')
  await put(join(etc, 'no-final-newline.conf'), '/etc/timezone\n/etc/localtime.whonix')
  await put(
    join(etc, 'binary.bin'),
    Buffer.concat([Buffer.from([0, 1, 2, 0xff, 10]), Buffer.from('/etc/timezone.kicksecure\n')]),
  )
  // grep ends lines at a NUL in a binary file as well.
  await put(join(etc, 'nul.conf'), Buffer.from('/etc/hostname.kicksecure\0anything\nx\0/etc/localtime.anondist\n'))
  await put(join(root, 'elsewhere/list'), '/etc/hosts.whonix\n')
  await symlink(join(root, 'elsewhere/list'), join(etc, 'link.conf')) // a link inside: grep -r skips it
  await put(join(root, 'rw-real/whonix'), '/etc/hosts.kicksecure\n/etc/localtime.kicksecure\n')
  await mkdir(dirname(rw), { recursive: true })
  await symlink(join(root, 'rw-real'), rw) // the directory itself given as a link: followed
  return { etc, rw }
}

const ourAnswer = async (directories: readonly string[]) => {
  const scan = await scanListDirectories(
    directories.map((dir) => ({ path: dir, rooted: dir })),
    {
      ignoredEndings: protectedFiles.ignoredEndings,
      maxFileBytes: protectedFiles.maxFileBytes,
      maxListFiles: protectedFiles.maxListFiles,
    },
  )
  return { scan, protects: (path: string) => listedIn(path, scan.lists).length > 0 }
}

describe.skipIf(grep.missing)("Qubes' protected-files rule, against Qubes' own grep", () => {
  it('agrees on every edge case: substrings, spaces, globs, backups, subdirectories, links, CRLF, binary, NUL', async () => {
    const root = await tempRoot()
    const { etc, rw } = await edgeCases(root)
    const ours = await ourAnswer([etc, rw])
    const expected = Object.fromEntries(CANDIDATES.map((path) => [path, qubesSaysProtected(path, [etc, rw])]))
    const actual = Object.fromEntries(CANDIDATES.map((path) => [path, ours.protects(path)]))
    expect(actual).toEqual(expected)
    // The cases really split both ways.
    expect(Object.values(expected).filter(Boolean).length).toBeGreaterThan(5)
    expect(Object.values(expected).filter((value) => !value).length).toBeGreaterThan(5)
    expect(ours.scan.problems).toEqual([])
  })

  it('agrees when one or both directories are missing', async () => {
    const root = await tempRoot()
    const { etc } = await edgeCases(root)
    const missing = join(root, 'no/such/dir')
    for (const [directories, states] of [
      [
        [etc, missing],
        ['present', 'missing'],
      ],
      [
        [missing, join(root, 'nor/this')],
        ['missing', 'missing'],
      ],
    ]) {
      const ours = await ourAnswer(directories as string[])
      for (const path of CANDIDATES)
        expect(ours.protects(path), path).toBe(qubesSaysProtected(path, directories as string[]))
      expect(ours.scan.directories.map((directory) => directory.state)).toEqual(states)
    }
  })

  it('names every list file that protects a path', async () => {
    const root = await tempRoot()
    const dir = join(root, 'd')
    await put(join(dir, 'b.conf'), '/etc/hostname\n')
    await put(join(dir, 'a.conf'), '# comment\n/etc/hostname\n')
    const ours = await ourAnswer([dir])
    expect(listedIn('/etc/hostname', ours.scan.lists)).toEqual([join(dir, 'a.conf'), join(dir, 'b.conf')])
  })

  it('the generated list protects every file Whonix keeps, by the same grep', async () => {
    const root = await tempRoot()
    const { protectedFilesList } = await import('../../../agent/protected-files/list-file')
    const [file] = protectedFilesList(shippedManifest())
    if (file?.kind !== 'file') throw new Error('no list file')
    const dir = join(root, 'etc/qubes/protected-files.d')
    await put(join(root, file.path), file.content)
    const paths = protectedPaths(Object.keys(protectedFiles.files), protectedFiles.variantSuffixes).map(
      ({ path }) => path,
    )
    expect(paths).toHaveLength(20)
    for (const path of paths) expect(qubesSaysProtected(path, [dir]), path).toBe(true)
    expect(qubesSaysProtected('/etc/machine-id', [dir])).toBe(false)
  })
})
