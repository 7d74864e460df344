import { readdir } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { PROFILE_NAMES } from '../../agent/simulate/profiles'
import { runAgent } from '../helpers/cli'
import { tempRoot } from '../helpers/sandbox'

describe('the CLI', () => {
  it('--help lists the commands and exits 0', async () => {
    const run = await runAgent(['--help'])
    expect(run.code).toBe(0)
    for (const command of ['role', 'status', 'simulate'])
      expect(run.stdout).toMatch(new RegExp(`qubes-whonix-agent ${command}\\b`))
  })

  it('a usage error is one line and exit 2', async () => {
    for (const args of [['no-such-command'], [], ['role', '--no-such-option'], ['simulate', '--as', 'nonsense']]) {
      const run = await runAgent(args)
      expect(run.code, args.join(' ')).toBe(2)
      expect(run.stdout).toBe('')
      expect(run.stderr.trim().split('\n')).toHaveLength(1)
      expect(run.stderr).toMatch(/^qubes-whonix-agent: /)
    }
  })

  it('simulate --root without --as is refused', async () => {
    const run = await runAgent(['simulate', '--root', '/tmp/somewhere'])
    expect(run).toMatchObject({ code: 2, stderr: 'qubes-whonix-agent: simulate --root DIR needs --as PROFILE\n' })
  })

  it('the demo shows every simulated qube and removes its temporary roots', async () => {
    // A private TMPDIR: other suites running at the same time make their own temp dirs.
    const tmp = await tempRoot()
    // Six qubes built and inspected: a loaded machine may take longer than the default bound.
    const run = await runAgent(['simulate'], { env: { PATH: '/usr/bin:/bin', TMPDIR: tmp }, timeoutMs: 60_000 })
    expect(run.code).toBe(0)
    for (const profile of PROFILE_NAMES) expect(run.stdout).toContain(`== ${profile}: `)
    expect(run.stdout).toMatch(/== gateway: [^\n]*\n[^\n]*\n(.*\n)*?Class: +proxy/)
    expect(run.stdout).toMatch(/Updates proxy check: +pending/)
    expect(await readdir(tmp)).toEqual([])
  }, 90_000)

  it('the demo in JSON gives one status per profile', async () => {
    const run = await runAgent(['simulate', '--json', '--as', 'workstation'])
    const parsed = JSON.parse(run.stdout)
    expect(parsed).toMatchObject({ profile: 'workstation', status: { role: { whonix: 'workstation', class: 'app' } } })
  })
})

describe('finding the command word before loading its module', () => {
  it('skips the global options and their values', async () => {
    const { commandWord } = await import('../../agent/cli')
    expect(commandWord(['--root', '/x', '--json', 'role'])).toBe('role')
    expect(commandWord(['--config', 'role', 'status'])).toBe('status')
    expect(commandWord(['-v', '--root=/x', 'files', 'list'])).toBe('files')
    expect(commandWord(['--help'])).toBeUndefined()
    expect(commandWord(['--', 'role'])).toBeUndefined()
  })
})
