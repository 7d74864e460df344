import { chmod, mkdir, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createContext } from '../../../agent/context'
import { shippedManifest } from '../../../agent/features'
import { currentRole, type Role } from '../../../agent/role'
import { buildSimulatedQube, qubesdbStandInScript, writeQubesdbData } from '../../../agent/simulate/build'
import { PROFILES, type ProfileName } from '../../../agent/simulate/profiles'
import { runAgent } from '../../helpers/cli'
import { tempRoot } from '../../helpers/sandbox'

const manifest = shippedManifest()
// Only the sandbox's own qubesdb-read may answer.
const isolatedEnv = { PATH: '' }

async function roleOf(root: string): Promise<Role> {
  return currentRole(await createContext({ root, manifest, env: isolatedEnv }))
}

async function simulated(profile: ProfileName): Promise<string> {
  const root = await tempRoot()
  await buildSimulatedQube(root, PROFILES[profile], manifest)
  return root
}

describe('role detection over simulated qubes', () => {
  it.each<[ProfileName, Partial<Role>]>([
    [
      'template-gateway',
      {
        qubes: true,
        whonix: 'gateway',
        class: 'template',
        providesNetwork: false,
        persistence: 'full',
        name: 'whonix-gateway-18',
      },
    ],
    [
      'template-workstation',
      { qubes: true, whonix: 'workstation', class: 'template', providesNetwork: false, persistence: 'full' },
    ],
    [
      'gateway',
      {
        qubes: true,
        whonix: 'gateway',
        class: 'proxy',
        providesNetwork: true,
        persistence: 'rw-only',
        name: 'sys-whonix',
      },
    ],
    [
      'workstation',
      {
        qubes: true,
        whonix: 'workstation',
        class: 'app',
        providesNetwork: false,
        persistence: 'rw-only',
        name: 'anon-whonix',
      },
    ],
    [
      'disposable-workstation',
      { qubes: true, whonix: 'workstation', class: 'disposable', providesNetwork: false, persistence: 'none' },
    ],
    [
      'plain-qube',
      { qubes: true, whonix: null, class: 'app', providesNetwork: false, persistence: 'rw-only', name: 'work' },
    ],
  ])('%s', async (profile, expected) => {
    const role = await roleOf(await simulated(profile))
    expect(role).toMatchObject({ schema: 1, ...expected, warnings: [] })
    expect(role.services).toEqual([...PROFILES[profile].services].sort())
    for (const field of ['qubes', 'whonix', 'class', 'providesNetwork', 'persistence', 'name', 'services'] as const)
      expect(role.evidence[field].length).toBeGreaterThan(0)
  })

  it('a machine that is not Qubes: no qubesdb-read, nothing guessed', async () => {
    const root = await tempRoot()
    const role = await roleOf(root)
    expect(role).toMatchObject({
      qubes: false,
      whonix: null,
      class: null,
      providesNetwork: false,
      persistence: null,
      name: null,
      services: [],
      warnings: [],
    })
    expect(role.evidence.qubes).toEqual(['no qubesdb-read on the root or on PATH'])
  })

  it('a Whonix VM outside Qubes still reports its flavour, and Qubes markers without qubesdb warn', async () => {
    const root = await simulated('workstation')
    await rm(join(root, 'usr/bin/qubesdb-read'))
    const role = await roleOf(root)
    expect(role).toMatchObject({ qubes: false, whonix: 'workstation', class: null })
    expect(role.warnings).toEqual([
      expect.stringMatching(/Qubes marker files exist .*this-is-appvm.* but qubesdb-read is missing/),
    ])
  })

  it('evidence names where each fact came from', async () => {
    const role = await roleOf(await simulated('gateway'))
    expect(role.evidence.whonix).toEqual(['/usr/share/anon-gw-base-files/gateway exists'])
    expect(role.evidence.class).toEqual(['qubesdb /type = AppVM', 'qubesdb /qubes-vm-type = ProxyVM'])
    expect(role.evidence.persistence).toEqual(['qubesdb /qubes-vm-persistence = rw-only'])
  })
})

describe('contradictory and bad evidence becomes warnings, never guesses', () => {
  const db = (root: string) => join(root, manifest.paths.simulatedQubesdb)

  it('a gateway marker in a qube that provides no network', async () => {
    const root = await simulated('workstation')
    await mkdir(join(root, '/usr/share/anon-gw-base-files'), { recursive: true })
    await writeFile(join(root, manifest.paths.gatewayMarker), '')
    await rm(join(root, manifest.paths.workstationMarker))
    const role = await roleOf(root)
    expect(role.whonix).toBe('gateway')
    expect(role.warnings).toEqual([expect.stringMatching(/Whonix-Gateway marker but provides no network/)])
  })

  it('both Whonix markers: flavour left undecided', async () => {
    const root = await simulated('gateway')
    await mkdir(join(root, '/usr/share/anon-ws-base-files'), { recursive: true })
    await writeFile(join(root, manifest.paths.workstationMarker), '')
    const role = await roleOf(root)
    expect(role.whonix).toBeNull()
    expect(role.warnings).toContainEqual(expect.stringMatching(/both the gateway and the workstation marker/))
  })

  it('this-is-templatevm disagreeing with qubesdb', async () => {
    const root = await simulated('workstation')
    await writeFile(join(root, '/run/qubes/this-is-templatevm'), '')
    const role = await roleOf(root)
    expect(role.class).toBe('app')
    expect(role.warnings).toContainEqual('/run/qubes/this-is-templatevm exists but qubesdb says AppVM')
    expect(role.warnings).toContainEqual(expect.stringMatching(/several qube type markers/))
  })

  it('persistence files disagreeing with qubesdb', async () => {
    const root = await simulated('disposable-workstation')
    await writeFile(join(db(root), 'qubes-vm-persistence'), 'full')
    const role = await roleOf(root)
    expect(role.persistence).toBe('full')
    expect(role.warnings).toEqual(['qubesdb /qubes-vm-persistence is full but /run/qubes/persistent-none exists'])
  })

  it('invalid qubesdb values are reported and the marker files decide instead', async () => {
    const root = await simulated('gateway')
    await writeFile(join(db(root), 'type'), 'AppVM\nTemplateVM')
    await writeFile(join(db(root), 'qubes-vm-type'), 'x'.repeat(1024 * 1024))
    await writeFile(join(db(root), 'name'), 'sys-whonix; rm -rf /')
    const role = await roleOf(root)
    expect(role.class).toBe('proxy')
    expect(role.evidence.class).toEqual(['/run/qubes/this-is-proxyvm exists (qubesdb gave no type)'])
    expect(role.name).toBeNull()
    expect(role.warnings).toEqual([
      'qubesdb /type: contains a control character or a line break; not used',
      'qubesdb /qubes-vm-type: longer than 4096 bytes; not used',
      expect.stringMatching(/^qubesdb \/name: "sys-whonix; rm -rf \/" is not a qube name/),
    ])
  })

  it('a qubesdb-read that hangs is bounded and reported', async () => {
    const root = await simulated('template-gateway')
    await writeFile(join(root, 'usr/bin/qubesdb-read'), '#!/bin/sh\nexec sleep 60\n')
    const context = await createContext({
      root,
      manifest: { ...manifest, qubes: { ...manifest.qubes, qubesdb: { timeoutMs: 300, maxValueBytes: 4096 } } },
      env: isolatedEnv,
    })
    const started = Date.now()
    const role = await currentRole(context)
    expect(Date.now() - started).toBeLessThan(5000)
    expect(role.class).toBe('template')
    expect(role.warnings).toContainEqual('qubesdb /type: qubesdb-read /type did not answer within 300 ms; not used')
  })

  it('a Whonix marker counts whatever is there, as `test -e` sees it: a directory does, a link to nothing does not', async () => {
    const root = await simulated('plain-qube')
    await mkdir(join(root, manifest.paths.gatewayMarker), { recursive: true })
    await mkdir(join(root, '/usr/share/anon-ws-base-files'), { recursive: true })
    // A link to nothing inside the sandbox (a host path might exist).
    await symlink('no-such-marker', join(root, manifest.paths.workstationMarker))
    const role = await roleOf(root)
    expect(role.whonix).toBe('gateway')
    expect(role.warnings.filter((warning) => warning.includes('marker /usr/share'))).toEqual([])
  })

  it('invalid Qubes service names are skipped with a warning', async () => {
    const root = await simulated('gateway')
    await writeFile(join(root, '/run/qubes-service/.hidden'), '')
    await writeFile(join(root, '/run/qubes-service/bad name'), '')
    const role = await roleOf(root)
    expect(role.services).toEqual(['qubes-firewall', 'qubes-network', 'qubes-updates-proxy'])
    expect(role.warnings).toEqual(['ignored invalid Qubes service names: ".hidden", "bad name"'])
  })
})

describe('role through the real CLI process', () => {
  it('with the qubesdb-read stand-in on PATH (not under the root)', async () => {
    const root = await tempRoot()
    const bin = join(root, 'bin')
    const data = join(root, 'db')
    await mkdir(bin)
    await writeQubesdbData(data, PROFILES.gateway.qubesdb)
    await writeFile(join(bin, 'qubesdb-read'), qubesdbStandInScript(data))
    await chmod(join(bin, 'qubesdb-read'), 0o755)
    await mkdir(join(root, 'sandbox/usr/share/anon-gw-base-files'), { recursive: true })
    await writeFile(join(root, 'sandbox/usr/share/anon-gw-base-files/gateway'), '')
    const run = await runAgent(['--root', join(root, 'sandbox'), 'role', '--json'], {
      env: { PATH: `${bin}:/usr/bin:/bin` },
    })
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const role = JSON.parse(run.stdout) as Role
    expect(role).toMatchObject({
      qubes: true,
      whonix: 'gateway',
      class: 'proxy',
      providesNetwork: true,
      name: 'sys-whonix',
      warnings: [],
    })
    expect(role.evidence.qubes).toEqual([`qubesdb-read found at ${join(bin, 'qubesdb-read')}`])
  })

  it('simulate --root builds a qube the CLI then recognises, in text and JSON', async () => {
    const root = await tempRoot()
    const built = await runAgent(['simulate', '--as', 'template-workstation', '--root', root])
    expect(built.code).toBe(0)
    expect(built.stdout).toContain(`Built a simulated template-workstation`)
    const text = await runAgent(['--root', root, 'role'])
    expect(text.stdout).toMatch(/^Whonix: +workstation$/m)
    expect(text.stdout).toMatch(/^Class: +template$/m)
    const status = JSON.parse((await runAgent(['--root', root, 'status', '--json'])).stdout)
    expect(status.updatesProxy).toMatchObject({
      applicable: true,
      directory: 'present',
      secureProxy: 'missing',
      checkDone: 'missing',
      verdict: 'pending',
    })
  })

  it('status reads the markers: passed, failed, and a link in place of a marker does not count', async () => {
    const root = await simulated('template-gateway')
    const dir = join(root, manifest.paths.updatesProxyCheckDir)
    await writeFile(join(dir, manifest.updatesProxy.markers.done), '')
    let status = JSON.parse((await runAgent(['--root', root, 'status', '--json'])).stdout)
    expect(status.updatesProxy.verdict).toBe('failed')
    await symlink(join(dir, manifest.updatesProxy.markers.done), join(dir, manifest.updatesProxy.markers.secure))
    status = JSON.parse((await runAgent(['--root', root, 'status', '--json'])).stdout)
    expect(status.updatesProxy).toMatchObject({ secureProxy: 'not-a-file', verdict: 'failed' })
    await rm(join(dir, manifest.updatesProxy.markers.secure))
    await writeFile(join(dir, manifest.updatesProxy.markers.secure), '')
    status = JSON.parse((await runAgent(['--root', root, 'status', '--json'])).stdout)
    expect(status.updatesProxy.verdict).toBe('passed')
  })

  it('an unreadable /run/qubes-service is a warning, not a crash (run as nobody)', async () => {
    if (process.getuid?.() !== 0) return console.warn('skipping: needs root to switch to nobody')
    const root = await simulated('gateway')
    await chmod(root, 0o755)
    await chmod(join(root, 'run/qubes-service'), 0o700)
    const run = await runAgent(['--root', root, 'role', '--json'], {
      env: { PATH: '/usr/bin:/bin' },
      asUser: 65534,
    })
    expect(run.code).toBe(0)
    const role = JSON.parse(run.stdout) as Role
    expect(role.services).toEqual([])
    expect(role.warnings).toEqual([expect.stringMatching(/cannot list .*run\/qubes-service: EACCES/)])
  })
})
