import { access, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { bootBudget } from '../../../agent/firewall/deadline'
import { AGENT, runProgram } from '../../helpers/cli'
import { canUseNetns, requirePart } from '../../helpers/parts'
import { ended } from '../../helpers/process'
import { tempRoot } from '../../helpers/sandbox'
import { firewallQube, manifest } from './qube'

// `apply --fail-closed` as the boot unit runs it, with the real nft in a network namespace of
// its own (unshare --net), under a manifest whose unit time is short: what a hanging drop-in
// or a missing nft leaves loaded, written and exited.
const nft = requirePart('nft', 'nftables')
const unshare = requirePart('unshare', 'util-linux')
const netns = canUseNetns()
if (!netns && process.env.CI === 'true')
  throw new Error('network namespaces are required in CI (run the tests as root)')

const UNIT_SECONDS = 4

async function testManifest(dir: string, firewall: Record<string, unknown> = {}): Promise<string> {
  const raw = parse(await readFile(new URL('../../../qubes.yaml', import.meta.url), 'utf8')) as {
    systemd: Record<string, unknown>
    firewall: Record<string, unknown>
  }
  raw.systemd.oneshotTimeoutSec = UNIT_SECONDS
  Object.assign(raw.firewall, firewall)
  const file = join(dir, 'qubes.yaml')
  await writeFile(file, stringify(raw))
  return file
}

/** The agent's `firewall apply --fail-closed`, then nft's listing, in one throwaway namespace. */
async function applyInNamespace(root: string, config: string) {
  const script = '"$@"; echo "exit=$?"; nft --stateless list ruleset'
  const start = performance.now()
  const run = await runProgram(
    unshare.path ?? 'unshare',
    ['--net', '--', 'sh', '-c', script, 'sh', process.execPath, AGENT, '--root', root, '--config', config].concat([
      'firewall',
      'apply',
      '--fail-closed',
    ]),
    { env: { ...process.env, PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, timeoutMs: 60_000 },
  )
  const [, code] = /^exit=(\d+)$/m.exec(run.stdout) ?? []
  return { ...run, exit: Number(code), elapsedMs: performance.now() - start }
}

async function record(root: string): Promise<{ loaded: string; error: string }> {
  return JSON.parse(await readFile(join(root, manifest.firewall.status.record), 'utf8')) as {
    loaded: string
    error: string
  }
}

describe('the firewall boot time budget', () => {
  it('leaves the boot unit time to lock down after the deadline', () => {
    const budget = bootBudget(manifest)
    expect(budget.applyMs + 2 * budget.lockdownCommandMs).toBeLessThan(manifest.systemd.oneshotTimeoutSec * 1000)
    expect(budget.lockdownCommandMs).toBeLessThanOrEqual(manifest.firewall.timeoutMs)
  })
})

describe.skipIf(!netns || nft.missing || unshare.missing)('apply --fail-closed within the boot unit time', () => {
  it('goes to the lockdown at the deadline when a drop-in hangs, kills what it left, and exits 4', async () => {
    const root = await firewallQube('gateway', {
      dropIns: {
        '50_user.conf': 'EXT_IF=eth0\nsleep 60 &\necho $! > "${BASH_SOURCE%/*}/job.pid"\nsleep 60\n',
      },
    })
    const applied = await applyInNamespace(root, await testManifest(await tempRoot()))
    expect(applied.exit).toBe(4)
    const applyMs = bootBudget({
      ...manifest,
      systemd: { ...manifest.systemd, oneshotTimeoutSec: UNIT_SECONDS },
    }).applyMs
    expect(applied.stderr).toContain(`did not finish within ${applyMs} ms`)
    // Well before the per-command bound (firewall.timeoutMs, 20 s) or the unit's time.
    expect(applied.elapsedMs).toBeLessThan(UNIT_SECONDS * 1000 + 8000)
    for (const path of manifest.firewall.status.failed) await access(join(root, path))
    expect(await record(root)).toMatchObject({ loaded: 'lockdown' })
    expect(applied.stdout).toContain('table inet filter')
    expect(applied.stdout).toContain('policy drop')
    expect(applied.stdout).not.toContain('table inet nat')
    const job = Number(await readFile(join(root, manifest.firewall.dropInDirs[0] ?? '', 'job.pid'), 'utf8'))
    expect(await ended(job)).toBe(true)
  })

  it('fails the unit, with the failure status written, when not even the lockdown can be loaded', async () => {
    const root = await firewallQube('gateway')
    const config = await testManifest(await tempRoot(), { nftProgram: '/nonexistent/nft' })
    const applied = await applyInNamespace(root, config)
    expect(applied.exit).toBe(4)
    expect(applied.stderr).toContain('ENOENT')
    for (const path of manifest.firewall.status.failed) await access(join(root, path))
    expect(await record(root)).toMatchObject({ loaded: 'none' })
    expect(applied.stdout).not.toContain('table inet filter')
  })
})
