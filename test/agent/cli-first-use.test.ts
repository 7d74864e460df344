import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runAgent } from '../helpers/cli'
import { tempRoot } from '../helpers/sandbox'
import { READY, simulatedRoot, startDaemon } from './daemon/helper'

// What a new user meets first: every answer is said, usage errors are one line and exit 2.
const usageError = (run: { code: number | null; stdout: string; stderr: string }, message: string | RegExp) => {
  expect(run.code).toBe(2)
  expect(run.stdout).toBe('')
  expect(run.stderr.trim().split('\n')).toHaveLength(1)
  expect(run.stderr).toMatch(typeof message === 'string' ? `qubes-whonix-agent: ${message}` : message)
}

describe('the CLI on first use', () => {
  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string
    }
    const run = await runAgent(['--version'])
    expect(run).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' })
  })

  it('a command without its action lists the actions (exit 2)', async () => {
    usageError(await runAgent(['files']), 'files needs an action: list, show PATH, write DIR')
    usageError(await runAgent(['protected-files']), 'protected-files needs an action: check')
    usageError(await runAgent(['updates-proxy']), 'updates-proxy needs an action: check, setup-tinyproxy, health')
  })

  it('--root must name an existing directory (exit 2)', async () => {
    const dir = await tempRoot()
    await writeFile(join(dir, 'file'), '')
    usageError(
      await runAgent(['--root', join(dir, 'missing'), 'role']),
      `--root ${join(dir, 'missing')}: no such directory`,
    )
    usageError(await runAgent(['--root', join(dir, 'file'), 'status']), `--root ${join(dir, 'file')}: not a directory`)
  })

  it('rpc-call of a name that is no service is a usage error (exit 2), whatever runs', async () => {
    const root = await simulatedRoot('gateway')
    usageError(await runAgent(['--root', root, 'rpc-call', 'bad name!']), 'service "bad name!" has white space')
    usageError(
      await runAgent(['--root', root, 'rpc-call', 'whonix.Role+$(x)']),
      /argument "\$\(x\)" has characters outside/,
    )
  })

  it('updates-proxy check outside a Whonix template says there is nothing to check, in text and JSON', async () => {
    for (const [profile, reason] of [
      ['plain-qube', 'not a Whonix qube'],
      ['gateway', 'a Whonix gateway (proxy qube), not a template'],
    ] as const) {
      const root = await simulatedRoot(profile)
      const text = await runAgent(['--root', root, 'updates-proxy', 'check'])
      expect(text).toMatchObject({ code: 0, stderr: '' })
      expect(text.stdout).toBe(
        `updates-proxy check: nothing to check here: ${reason} (only Whonix templates check their updates proxy)\n`,
      )
      const json = await runAgent(['--root', root, '--json', 'updates-proxy', 'check'])
      expect(json.code).toBe(0)
      expect(JSON.parse(json.stdout)).toEqual({ applicable: false, reason })
    }
  })

  it('status shows the stacked-Tor forwarders in workstations only', async () => {
    for (const [profile, shown] of [
      ['workstation', true],
      ['gateway', false],
      ['plain-qube', false],
    ] as const) {
      const run = await runAgent(['--root', await simulatedRoot(profile), 'status'])
      expect(run.code).toBe(0)
      expect([profile, /Stacked-Tor forwarders:/.test(run.stdout)]).toEqual([profile, shown])
    }
  })

  it('protected-files check on a qube that is not Whonix: one coherent line', async () => {
    const run = await runAgent(['--root', await simulatedRoot('plain-qube'), 'protected-files', 'check'])
    expect(run).toMatchObject({
      code: 0,
      stdout: 'Protected files: not applicable (not a Whonix qube); nothing checked\n',
    })
  })

  // A capped young generation (--max-semi-space-size) made the daemon larger, idle and after
  // the forwarders' load (docs/performance.md): the unit leaves V8's sizing alone.
  it("the daemon's unit passes Node no options", async () => {
    const unit = await runAgent(['files', 'show', '/lib/systemd/system/qubes-whonix-agent.service'])
    expect(unit.stdout).toMatch(/^ExecStart=\/usr\/bin\/qubes-whonix-agent daemon$/m)
    expect(unit.stdout).not.toMatch(/NODE_OPTIONS|--max-semi-space-size/)
  })

  it('rpc-call of a service the running daemon does not serve says so (exit 127)', async () => {
    const root = await simulatedRoot('gateway')
    const missing = await runAgent(['--root', root, 'rpc-call', 'whonix.UpdatesProxyCheck'])
    expect(missing.code).toBe(127)
    expect(missing.stderr).toMatch(/: the daemon is not running \(no \/run\/qubes-whonix-agent\/control\)\n$/)
    const daemon = startDaemon(root)
    await daemon.waitForLog(READY)
    const run = await runAgent(['--root', root, 'rpc-call', 'whonix.UpdatesProxyCheck'])
    expect(run.code).toBe(127)
    expect(run.stderr).toMatch(
      new RegExp(
        `: the running daemon \\(pid ${daemon.child.pid}\\) does not serve whonix.UpdatesProxyCheck on this qube; it serves [^\\n]*whonix\\.Role`,
      ),
    )
    expect(run.stderr).not.toMatch(/is the daemon running/)
    expect(await daemon.stop()).toBe(0)
  })
})
