import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCommand, shellEnvironment, spawnCommand, type Command } from '../../agent/run'
import { tempRoot } from '../helpers/sandbox'

const command = (argv: Command['argv'], extra: Partial<Command> = {}): Command => ({
  argv,
  timeoutMs: 10_000,
  maxOutputBytes: 1 << 16,
  ...extra,
})

describe('shellEnvironment', () => {
  it('makes bash a nested shell and drops the files bash would source', () => {
    expect(shellEnvironment({ PATH: '/bin', BASH_ENV: '/x', ENV: '/y', GONE: undefined })).toEqual({
      PATH: '/bin',
      SHLVL: '1',
    })
    expect(shellEnvironment({ SHLVL: '3' }).SHLVL).toBe('3')
    expect(shellEnvironment({ SHLVL: '0' }).SHLVL).toBe('1')
    expect(shellEnvironment({ SHLVL: 'x' }).SHLVL).toBe('1')
  })
})

// Both runners, against real processes: what a daemon started by systemd (no SHLVL) sees.
describe.each([
  ['runCommand (zx)', runCommand],
  ['spawnCommand', spawnCommand],
])('%s', (_name, run) => {
  it("keeps the user's shell start-up files out of the output (a daemon has no SHLVL)", async () => {
    const home = await tempRoot()
    await writeFile(join(home, '.bashrc'), 'echo FROM-BASHRC\n')
    await writeFile(join(home, 'env.sh'), 'echo FROM-BASH_ENV\n')
    const result = await run(
      command(['echo', 'only this'], { env: { HOME: home, PATH: '/usr/bin:/bin', BASH_ENV: join(home, 'env.sh') } }),
    )
    expect(result).toMatchObject({ exitCode: 0, stdout: 'only this\n', timedOut: false, overflowed: false })
  })

  it('passes arguments as data, whatever they hold', async () => {
    const hostile = ['$(id)', '`id`', "it's", 'a b', '*', '\n;echo x']
    const result = await run(command(['printf', '%s\\n', ...hostile]))
    expect(result.stdout).toBe(hostile.map((word) => `${word}\n`).join(''))
  })

  it('feeds the input, reports the exit code, kills at the time bound and at the output bound', async () => {
    expect(await run(command(['cat'], { input: 'in' }))).toMatchObject({ exitCode: 0, stdout: 'in' })
    expect(await run(command(['sh', '-c', 'exit 3']))).toMatchObject({ exitCode: 3 })
    expect(await run(command(['sleep', '10'], { timeoutMs: 200 }))).toMatchObject({ timedOut: true })
    expect(await run(command(['yes'], { maxOutputBytes: 1000 }))).toMatchObject({ overflowed: true, stdout: '' })
  })
})
