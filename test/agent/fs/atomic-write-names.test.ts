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
  return { ...actual, randomBytes: (size: number) => (drawn.queue.length > 0 ? Buffer.from(drawn.queue.shift() ?? '', 'hex') : actual.randomBytes(size)) }
})

const { writeFileAtomic } = await import('../../../agent/fs/atomic-write')

describe('writeFileAtomic temporary names', () => {
  beforeEach(() => {
    drawn.queue = []
  })

  it('draws another name when one is taken (a leftover of a killed run), and leaves the leftover alone', async () => {
    const dir = await tempRoot()
    const leftover = join(dir, '.tinyproxy.conf.qwa-aaaaaaaaaaaa.tmp')
    await writeFile(leftover, 'stale')
    drawn.queue = ['aaaaaaaaaaaa', 'aaaaaaaaaaaa', 'bbbbbbbbbbbb']
    expect((await writeFileAtomic(join(dir, 'tinyproxy.conf'), 'new\n')).changed).toBe(true)
    expect(drawn.queue).toEqual([])
    expect(await readFile(join(dir, 'tinyproxy.conf'), 'utf8')).toBe('new\n')
    expect(await readFile(leftover, 'utf8')).toBe('stale')
    expect((await readdir(dir)).sort()).toEqual(['.tinyproxy.conf.qwa-aaaaaaaaaaaa.tmp', 'tinyproxy.conf'])
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
    await writeFile(join(dir, '.f.qwa-dddddddddddd.tmp'), 'stale')
    drawn.queue = Array.from({ length: 8 }, () => 'dddddddddddd')
    await expect(writeFileAtomic(join(dir, 'f'), 'x')).rejects.toMatchObject({ code: 'ATOMIC_WRITE_FAILED' })
    expect((await readdir(dir)).sort()).toEqual(['.f.qwa-dddddddddddd.tmp'])
  })
})
