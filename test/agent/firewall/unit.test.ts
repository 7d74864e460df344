import { describe, expect, it } from 'vitest'
import { firewallUnit } from '../../../agent/firewall/unit'
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
