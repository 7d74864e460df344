import { describe, expect, it } from 'vitest'
import { plainCommandArgs } from '../../agent/cli-fast'
import { COMMANDS } from '../../agent/features'
import { runAgent } from '../helpers/cli'
import { tempRoot } from '../helpers/sandbox'

const role = await COMMANDS.role!()
const simulate = await COMMANDS.simulate!()
const defaults = { root: '/', config: undefined, json: false, verbose: false }

describe('a command with no options of its own, without yargs', () => {
  it.each([
    [['role'], defaults],
    [['--root', '/r', 'role', '--json'], { ...defaults, root: '/r', json: true }],
    [
      ['role', '-v', '--config', '/c.yaml', '--root', '/r'],
      { root: '/r', config: '/c.yaml', json: false, verbose: true },
    ],
    [['--verbose', 'role'], { ...defaults, verbose: true }],
  ])('%j gives the global options', (argv, expected) => {
    expect(plainCommandArgs(argv, 'role', role)).toEqual(expected)
  })

  it.each([
    [['role', '--help']],
    [['role', '--root=/r']],
    [['role', '--json', '--json']],
    [['role', '--root']],
    [['role', '--root', '--json']],
    [['role', '--root', '']],
    [['role', 'extra']],
    [['role', '--', '--json']],
    [['role', '--no-json']],
    [['role', '-vv']],
  ])('%j is left to yargs', (argv) => {
    expect(plainCommandArgs(argv, 'role', role)).toBeUndefined()
  })

  it('a command with its own options is always left to yargs', () => {
    expect(plainCommandArgs(['simulate'], 'simulate', simulate)).toBeUndefined()
  })

  it('the bundle answers the same through either way, and yargs still refuses what it refused', async () => {
    const root = await tempRoot()
    expect((await runAgent(['--root', root, 'simulate', '--as', 'workstation'])).code).toBe(0)
    const plain = await runAgent(['--root', root, 'role', '--json', '-v'])
    const viaYargs = await runAgent([`--root=${root}`, 'role', '--json', '-v'])
    expect(plain.code).toBe(0)
    expect(plain).toEqual(viaYargs)
    const refused = await runAgent(['role', '--json', '--bogus'])
    expect(refused.code).toBe(2)
    expect((await runAgent(['role', '--help'])).stdout).toMatch(/qubes-whonix-agent role/)
  })
})
