import { execFileSync } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCommand, shellEnvironment, spawnCommand, type Command } from '../../agent/run'
import { spawnCommandSync } from '../../agent/run-sync'
import { ended } from '../helpers/process'
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

// The runners, against real processes: what a daemon started by systemd (no SHLVL) sees.
describe.each([
  ['runCommand (zx)', runCommand],
  ['spawnCommand', spawnCommand],
  ['spawnCommandSync', spawnCommandSync],
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

  it("keeps stderr's first 4096 characters only", async () => {
    const result = await run(command(['sh', '-c', 'head -c 5000 /dev/zero | tr "\\0" e >&2']))
    expect(result).toMatchObject({ exitCode: 0, overflowed: false, stderr: 'e'.repeat(4096) })
  })
})

// What a sourced file or a script leaves running keeps copies of the output pipes; the
// program's own exit (or its time bound) is what ends the run, and the leftovers with it.
describe('spawnCommand and what a program leaves behind', () => {
  it('returns when the program exits, with its output, and ends the job it left holding the pipes', async () => {
    const start = performance.now()
    const result = await spawnCommand(command(['sh', '-c', 'sleep 60 & echo $!'], { timeoutMs: 20_000 }))
    expect(performance.now() - start).toBeLessThan(15_000)
    expect(result).toMatchObject({ exitCode: 0, timedOut: false })
    expect(result.stdout).toMatch(/^\d+\n$/)
    expect(await ended(Number(result.stdout))).toBe(true)
  })
})

describe.each([
  ['spawnCommand', spawnCommand],
  ['spawnCommandSync', spawnCommandSync],
])('%s and the process group it starts', (_name, run) => {
  it('kills the whole process group at the time bound, not only the program', async () => {
    const dir = await tempRoot()
    const start = performance.now()
    const result = await run(
      command(['sh', '-c', 'sleep 60 & echo $! > "$1"; sleep 60', 'sh', join(dir, 'pid')], { timeoutMs: 300 }),
    )
    expect(performance.now() - start).toBeLessThan(15_000)
    expect(result).toMatchObject({ timedOut: true, signal: 'SIGKILL' })
    expect(await ended(Number(await readFile(join(dir, 'pid'), 'utf8')))).toBe(true)
  })

  it('leaves its own process group alone and reports a program that cannot start', async () => {
    expect(await run(command(['/nonexistent/program']))).toMatchObject({
      exitCode: null,
      spawnError: 'ENOENT',
    })
    const group = await run(command(['sh', '-c', 'ps -o pgid= -p $$']))
    expect(Number(group.stdout)).not.toBe(
      Number(execFileSync('ps', ['-o', 'pgid=', '-p', String(process.pid)], { encoding: 'utf8' })),
    )
  })
})

describe('spawnCommandSync and what a program leaves behind', () => {
  it('waits for the pipes: a job left holding them keeps the run to the time bound, and is killed there', async () => {
    const result = await spawnCommandSync(command(['sh', '-c', 'sleep 60 & echo $!'], { timeoutMs: 500 }))
    expect(result).toMatchObject({ exitCode: 0, timedOut: true })
    expect(result.stdout).toMatch(/^\d+\n$/)
    expect(await ended(Number(result.stdout))).toBe(true)
  })

  it('counts both streams against the output bound', async () => {
    const result = await spawnCommandSync(
      command(['sh', '-c', 'head -c 600 /dev/zero; head -c 600 /dev/zero >&2'], { maxOutputBytes: 1000 }),
    )
    expect(result).toMatchObject({ overflowed: true, stdout: '', stderr: '' })
  })
})
