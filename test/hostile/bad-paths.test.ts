// Paths where the agent must refuse with one line and a documented exit code, never hang,
// spin or crash (exit 70): `files write` to a non-directory, `--config` naming a device or
// a FIFO, `simulate` over the system's root or a directory it did not build.
import { execFileSync } from 'node:child_process'
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { generatedFiles } from '../../agent/features'
import { shippedManifest } from '../../agent/features'
import { runAgent, type AgentRun } from '../helpers/cli'
import { tempRoot } from '../helpers/sandbox'

// Far above the agent's start-up: reaching it means a hang or a loop.
const BOUND_MS = 15_000

function oneLine(run: AgentRun, code: number, pattern: RegExp): void {
  expect(run.signal, 'killed at the bound: it hung').toBeNull()
  expect(run.code, run.stderr).toBe(code)
  expect(run.stderr).toMatch(/^qubes-whonix-agent: [^\n]+\n$/)
  expect(run.stderr).toMatch(pattern)
}

/** Every regular file and link under `root`, with its content or target. */
async function tree(root: string): Promise<Record<string, string>> {
  const entries: Record<string, string> = {}
  for (const name of (await readdir(root, { recursive: true, withFileTypes: true })).filter(
    (entry) => !entry.isDirectory(),
  ))
    entries[join(name.parentPath ?? name.path, name.name).slice(root.length)] = name.isSymbolicLink()
      ? 'link'
      : await readFile(join(name.parentPath ?? name.path, name.name), 'latin1')
  return entries
}

describe('files write to a bad place', () => {
  it.each([
    ['/dev/null', /\/dev\/null is not a directory/],
    ['/proc/nope', /cannot create the directory \/proc\/nope: ENOENT/],
  ])('%s: exit 1, one line, at once', async (path, pattern) => {
    oneLine(await runAgent(['files', 'write', path], { timeoutMs: BOUND_MS }), 1, pattern)
  })

  it('a directory: every generated file, twice over (the second run replaces them whole, same tree)', async () => {
    const dir = await tempRoot('qwa-hostile-files-')
    expect((await runAgent(['files', 'write', dir])).code).toBe(0)
    const first = await tree(dir)
    expect(Object.keys(first).length).toBe((await generatedFiles(shippedManifest())).length)
    expect((await runAgent(['files', 'write', dir])).code).toBe(0)
    expect(await tree(dir)).toEqual(first)
  })
})

describe('--config naming something else than a regular file', () => {
  it('/dev/zero: exit 1, one line, nothing read', async () => {
    oneLine(
      await runAgent(['--config', '/dev/zero', 'role'], { timeoutMs: BOUND_MS }),
      1,
      /cannot read manifest \/dev\/zero: not a regular file/,
    )
  })

  it('a FIFO nobody writes to: exit 1, one line, no wait', async () => {
    const dir = await tempRoot('qwa-hostile-config-')
    execFileSync('mkfifo', [join(dir, 'qubes.yaml')])
    oneLine(
      await runAgent(['--config', join(dir, 'qubes.yaml'), 'role'], { timeoutMs: BOUND_MS }),
      1,
      /not a regular file/,
    )
  })

  it('a file over the bound: exit 1, one line', async () => {
    const dir = await tempRoot('qwa-hostile-config-')
    await writeFile(join(dir, 'qubes.yaml'), '#'.repeat(2 * 1024 * 1024))
    oneLine(
      await runAgent(['--config', join(dir, 'qubes.yaml'), 'role'], { timeoutMs: BOUND_MS }),
      1,
      /larger than \d+ bytes/,
    )
  })
})

describe('simulate --root', () => {
  it.each(['/.', '//', '/tmp/..', '/usr/..'])(
    '%s is the system root: refused, exit 2, nothing written',
    async (root) => {
      oneLine(
        await runAgent(['simulate', '--root', root, '--as', 'gateway'], { timeoutMs: BOUND_MS }),
        2,
        /is the system's own root/,
      )
    },
  )

  it('a link to / is refused too', async () => {
    const dir = await tempRoot('qwa-hostile-simulate-')
    await symlink('/', join(dir, 'slash'))
    oneLine(
      await runAgent(['simulate', '--root', join(dir, 'slash'), '--as', 'gateway']),
      2,
      /is the system's own root/,
    )
  })

  it('a non-empty directory no simulation built: refused, exit 2, left as it was', async () => {
    const dir = await tempRoot('qwa-hostile-simulate-')
    await mkdir(join(dir, 'etc'))
    await writeFile(join(dir, 'etc/hostname'), 'mine\n')
    oneLine(
      await runAgent(['simulate', '--root', dir, '--as', 'gateway']),
      2,
      /non-empty directory that no simulation built/,
    )
    expect(await tree(dir)).toEqual({ '/etc/hostname': 'mine\n' })
  })

  it('the same profile again is idempotent; another profile over it is refused, no mix', async () => {
    const dir = join(await tempRoot('qwa-hostile-simulate-'), 'qube')
    expect((await runAgent(['simulate', '--root', dir, '--as', 'gateway'])).code).toBe(0)
    const first = await tree(dir)
    expect((await runAgent(['simulate', '--root', dir, '--as', 'gateway'])).code).toBe(0)
    expect(await tree(dir)).toEqual(first)
    oneLine(await runAgent(['simulate', '--root', dir, '--as', 'workstation']), 2, /holds a simulated gateway/)
    expect(await tree(dir)).toEqual(first)
  })
})
