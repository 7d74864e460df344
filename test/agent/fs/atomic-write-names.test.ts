// The temporary names of writeFileAtomic, with node:crypto's randomness made predictable
// so that a name already taken can be put in its way.
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type * as Crypto from 'node:crypto'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { tempRoot } from '../../helpers/sandbox'

const drawn = vi.hoisted(() => ({ queue: [] as string[] }))

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof Crypto>()
  return {
    ...actual,
    randomBytes: (size: number) =>
      drawn.queue.length > 0 ? Buffer.from(drawn.queue.shift() ?? '', 'hex') : actual.randomBytes(size),
  }
})

const { writeFileAtomic } = await import('../../../agent/fs/atomic-write')

describe('writeFileAtomic temporary names', () => {
  beforeEach(() => {
    drawn.queue = []
  })

  it("draws another name when one is taken (a live writer's), and leaves that file alone", async () => {
    const dir = await tempRoot()
    const live = join(dir, `.tinyproxy.conf.qwa-${process.pid}-aaaaaaaaaaaa.tmp`)
    await writeFile(live, 'in progress')
    drawn.queue = ['aaaaaaaaaaaa', 'aaaaaaaaaaaa', 'bbbbbbbbbbbb']
    expect((await writeFileAtomic(join(dir, 'tinyproxy.conf'), 'new\n')).changed).toBe(true)
    expect(drawn.queue).toEqual([])
    expect(await readFile(join(dir, 'tinyproxy.conf'), 'utf8')).toBe('new\n')
    expect(await readFile(live, 'utf8')).toBe('in progress')
    expect((await readdir(dir)).sort()).toEqual([
      `.tinyproxy.conf.qwa-${process.pid}-aaaaaaaaaaaa.tmp`,
      'tinyproxy.conf',
    ])
  })

  it("removes a dead writer's leftovers of that file on the next write, and nothing else", async () => {
    const dir = await tempRoot()
    // A pid above the kernel's largest (2^22) never belongs to a live process; a name with no pid is an earlier version's.
    const dead = ['.f.qwa-4194305-aaaaaaaaaaaa.tmp', '.f.qwa-4194306-bbbbbbbbbbbb.tmp', '.f.qwa-cccccccccccc.tmp']
    const kept = [
      '.g.qwa-4194305-aaaaaaaaaaaa.tmp',
      '.f.qwa-4194305-short.tmp',
      'f.qwa-4194305-aaaaaaaaaaaa.tmp',
      `.f.qwa-${process.pid}-cccccccccccc.tmp`,
    ]
    for (const name of [...dead, ...kept]) await writeFile(join(dir, name), 'x')
    await writeFileAtomic(join(dir, 'f'), 'new\n')
    expect((await readdir(dir)).sort()).toEqual(['f', ...kept].sort())
  })

  it('two writers that draw the same name both succeed', async () => {
    const dir = await tempRoot()
    drawn.queue = ['cccccccccccc', 'cccccccccccc']
    const file = join(dir, 'record')
    const results = await Promise.allSettled([writeFileAtomic(file, 'one\n'), writeFileAtomic(file, 'two\n')])
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled'])
    expect(['one\n', 'two\n']).toContain(await readFile(file, 'utf8'))
    expect(await readdir(dir)).toEqual(['record'])
  })

  it('gives up with ATOMIC_WRITE_FAILED when every name drawn is taken', async () => {
    const dir = await tempRoot()
    const live = `.f.qwa-${process.pid}-dddddddddddd.tmp`
    await writeFile(join(dir, live), 'in progress')
    drawn.queue = Array.from({ length: 8 }, () => 'dddddddddddd')
    await expect(writeFileAtomic(join(dir, 'f'), 'x')).rejects.toMatchObject({ code: 'ATOMIC_WRITE_FAILED' })
    expect((await readdir(dir)).sort()).toEqual([live])
  })
})
