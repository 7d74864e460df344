import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseQubesdbReadMany } from '../../../agent/qubesdb/many'
import { createQubesdbReader } from '../../../agent/qubesdb/reader'
import { spawnCommand, type Command, type Runner } from '../../../agent/run'
import { qubesdbStandInScript, writeQubesdbData } from '../../../agent/simulate/build'
import { tempRoot } from '../../helpers/sandbox'

const LIMITS = { timeoutMs: 2000, maxValueBytes: 4096 }
const KEYS = ['/type', '/qubes-vm-type', '/qubes-vm-persistence', '/name'] as const

/** The stand-in over `values`, and a runner that records each command it runs. */
async function standIn(
  values: Record<string, string>,
  script?: string,
): Promise<{ program: string; run: Runner; commands: Command[] }> {
  const root = await tempRoot()
  const data = join(root, 'db')
  await writeQubesdbData(data, values)
  const program = join(root, 'qubesdb-read')
  await writeFile(program, script ?? qubesdbStandInScript(data))
  await chmod(program, 0o755)
  const commands: Command[] = []
  return { program, commands, run: (command) => (commands.push(command), spawnCommand(command)) }
}

describe('qubesdb-read -f output', () => {
  it('gives each present key its value, a key with no line is missing', () => {
    expect(parseQubesdbReadMany(KEYS, '/type = AppVM\n/name = a = b\n')).toEqual(
      new Map([
        ['/type', 'AppVM'],
        ['/name', 'a = b'],
      ]),
    )
    expect(parseQubesdbReadMany(['/qubes-ip', '/qubes-ip6'], '/qubes-ip6 = fd09::1\n')).toEqual(
      new Map([['/qubes-ip6', 'fd09::1']]),
    )
  })

  it.each([
    ['a value broken over two lines', '/type = App\nVM\n/name = x\n'],
    ['lines out of order', '/name = x\n/type = AppVM\n'],
    ['a key twice', '/type = AppVM\n/type = NetVM\n'],
    ['no final newline', '/type = AppVM'],
    ['a key not asked for', '/qubes-ip = 10.0.0.1\n'],
  ])('refuses %s', (_what, output) => {
    expect(parseQubesdbReadMany(KEYS, output)).toBeNull()
  })
})

describe('reading several qubesdb keys at once, against real processes', () => {
  it('runs qubesdb-read once for all keys and reads the same as key by key', async () => {
    const { program, run, commands } = await standIn({
      '/type': 'AppVM',
      '/qubes-vm-type': 'ProxyVM',
      '/name': 'sys-whonix',
    })
    const reader = createQubesdbReader(program, LIMITS, run)
    const many = await reader.readMany(KEYS)
    expect(commands.map((command) => command.argv.slice(1))).toEqual([['-f', ...KEYS]])
    expect(many).toEqual({
      '/type': { state: 'present', value: 'AppVM' },
      '/qubes-vm-type': { state: 'present', value: 'ProxyVM' },
      '/qubes-vm-persistence': { state: 'absent' },
      '/name': { state: 'present', value: 'sys-whonix' },
    })
    const oneByOne = Object.fromEntries(await Promise.all(KEYS.map(async (key) => [key, await reader.read(key)])))
    expect(many).toEqual(oneByOne)
  })

  it('checks each value by its key, as a single read does', async () => {
    const { program, run } = await standIn({ '/type': 'Nonsense', '/name': 'ok-name' })
    const many = await createQubesdbReader(program, LIMITS, run).readMany(['/type', '/name'])
    expect(many['/type']).toEqual({ state: 'invalid', reason: expect.stringMatching(/is not one of AppVM/) })
    expect(many['/name']).toEqual({ state: 'present', value: 'ok-name' })
  })

  it('asks key by key when the output is not one line per key (a value with a line break)', async () => {
    const { program, run, commands } = await standIn({ '/type': 'App\nVM', '/name': 'x' })
    const many = await createQubesdbReader(program, LIMITS, run).readMany(['/type', '/name'])
    expect(commands).toHaveLength(3)
    expect(many['/type']).toEqual({ state: 'invalid', reason: 'contains a control character or a line break' })
    expect(many['/name']).toEqual({ state: 'present', value: 'x' })
  })

  it('asks key by key when a qubesdb-read without -f fails with no output', async () => {
    const plain =
      '#!/bin/sh\n[ "$1" = -f ] && { echo "usage" >&2; exit 1; }\n[ "$1" = /name ] && { echo sys-whonix; exit 0; }\nexit 1\n'
    const { program, run, commands } = await standIn({}, plain)
    const many = await createQubesdbReader(program, LIMITS, run).readMany(['/type', '/name'])
    expect(commands).toHaveLength(3)
    expect(many).toEqual({ '/type': { state: 'absent' }, '/name': { state: 'present', value: 'sys-whonix' } })
  })

  it('reports every key failed when the one run hangs, within the bound', async () => {
    const { program, run, commands } = await standIn({}, '#!/bin/sh\nexec sleep 60\n')
    const many = await createQubesdbReader(program, { ...LIMITS, timeoutMs: 300 }, run).readMany(['/type', '/name'])
    expect(commands).toHaveLength(1)
    expect(many['/name']).toEqual({ state: 'failed', reason: 'qubesdb-read /name did not answer within 300 ms' })
  })
})
