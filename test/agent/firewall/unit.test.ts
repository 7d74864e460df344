import { spawnSync } from 'node:child_process'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join, posix } from 'node:path'
import { describe, expect, it } from 'vitest'
import { firewallUnit } from '../../../agent/firewall/unit'
import { requirePart } from '../../helpers/parts'
import { tempRoot } from '../../helpers/sandbox'
import { manifest } from './qube'

describe('the firewall boot unit', () => {
  it('comes before, and is required by, every network unit, the internal interface and Tor', () => {
    const [file] = firewallUnit(manifest)
    const content = file?.kind === 'file' ? file.content : ''
    const values = (key: string) =>
      content
        .split('\n')
        .filter((line) => line.startsWith(`${key}=`))
        .flatMap((line) => line.slice(key.length + 1).split(' '))
    for (const unit of [...manifest.firewall.networkUnits, manifest.gatewayInterface.unit, manifest.systemd.torUnit])
      expect(values('Before')).toContain(unit)
    for (const unit of [
      'qubes-whonix-network.service',
      'qubes-network-uplink.service',
      manifest.gatewayInterface.unit,
      manifest.systemd.torUnit,
    ])
      expect(values('RequiredBy')).toContain(unit)
    expect(values('After').some((unit) => manifest.firewall.networkUnits.includes(unit))).toBe(false)
    expect(values('ExecStart').join(' ')).toBe(`${manifest.paths.agentProgram} firewall apply --fail-closed`)
    expect(values('DefaultDependencies')).toEqual(['no'])
  })
})

// The uplink instances come from udev, not from the firewall's RequiredBy=: the real
// systemd-analyze loads an instance with our drop-in, over a stand-in of Qubes' template.
const analyze = requirePart('systemd-analyze', 'systemd')

describe.skipIf(analyze.missing)('the uplink instances udev starts', () => {
  it('each requires the firewall unit and is ordered after it', async () => {
    const dir = await tempRoot()
    for (const file of firewallUnit(manifest)) {
      if (file.kind !== 'file') continue
      const path = join(dir, posix.relative(manifest.systemd.unitDirectory, file.path))
      await mkdir(dirname(path), { recursive: true })
      await writeFile(path, file.content)
    }
    const template = manifest.firewall.uplinkTemplate
    await writeFile(
      join(dir, template),
      '[Unit]\nDescription=uplink %i\n[Service]\nType=oneshot\nExecStart=/bin/true\n',
    )
    const instance = template.replace('@.service', '@eth0.service')
    const verify = () =>
      spawnSync(analyze.path ?? 'systemd-analyze', ['verify', instance], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SYSTEMD_UNIT_PATH: `${dir}:` },
        encoding: 'utf8',
      })
    const clean = verify()
    expect(clean.stderr).toBe('')
    expect(clean.status).toBe(0)
    const dropIn = await readFile(join(dir, `${template}.d`, manifest.firewall.uplinkDropIn), 'utf8')
    expect(dropIn).toContain(`\nAfter=${manifest.firewall.unit}\n`)
    // Without the firewall unit the instance cannot be started: it requires it.
    await rm(join(dir, manifest.firewall.unit))
    const orphan = verify()
    expect(orphan.status).not.toBe(0)
    expect(orphan.stderr).toContain(`${manifest.firewall.unit} not found`)
  })
})
