import { execFileSync, spawnSync } from 'node:child_process'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { generatedFiles, shippedManifest } from '../../../agent/features'
import { requirePart } from '../../helpers/parts'
import { tempRoot } from '../../helpers/sandbox'

const manifest = shippedManifest()
const analyze = requirePart('systemd-analyze', 'systemd')
const UNITS = [manifest.replaceIps.unit, manifest.gatewayInterface.unit]
const files = await generatedFiles(manifest)

function unitText(name: string): string {
  const file = files.find((candidate) => candidate.path === `${manifest.systemd.unitDirectory}/${name}`)
  if (file?.kind !== 'file') throw new Error(`no generated unit ${name}`)
  return file.content
}

/** A root holding the host's own units (sysinit.target...), the agent program and `units`. */
async function verifyRoot(units: Record<string, string>): Promise<string> {
  const root = await tempRoot('qwa-units-')
  await mkdir(join(root, 'usr/lib/systemd'), { recursive: true })
  execFileSync('cp', ['-a', '/usr/lib/systemd/system', join(root, 'usr/lib/systemd/')])
  const program = join(root, manifest.paths.agentProgram)
  await mkdir(dirname(program), { recursive: true })
  await writeFile(program, '#!/bin/sh\n')
  await chmod(program, 0o755)
  await mkdir(join(root, 'etc/systemd/system'), { recursive: true })
  for (const [name, text] of Object.entries(units)) await writeFile(join(root, 'etc/systemd/system', name), text)
  return root
}

const verify = (root: string, unit: string) =>
  spawnSync(analyze.path ?? 'systemd-analyze', ['verify', `--root=${root}`, unit], { encoding: 'utf8' })

describe('the boot units', () => {
  it('run the agent once, after Qubes set up the network, before Tor, never in a template', () => {
    for (const name of UNITS) {
      const text = unitText(name)
      expect(text).toContain(`After=${manifest.systemd.bootAfter.join(' ')}\n`)
      expect(text).toContain(`Before=${manifest.systemd.torUnit}\n`)
      expect(text).toContain('ConditionPathExists=!/run/qubes/this-is-templatevm\n')
      expect(text).toContain('Type=oneshot\n')
    }
    expect(unitText(manifest.replaceIps.unit)).toContain(`ExecStart=${manifest.paths.agentProgram} replace-ips\n`)
    expect(unitText(manifest.gatewayInterface.unit)).toContain(
      `ExecStart=${manifest.paths.agentProgram} gateway-interface\n`,
    )
    expect(unitText(manifest.gatewayInterface.unit)).toContain(`ConditionPathExists=${manifest.paths.gatewayMarker}\n`)
  })

  it.skipIf(analyze.missing).each(UNITS)('%s is accepted by systemd-analyze verify', async (name) => {
    const root = await verifyRoot({ [name]: unitText(name) })
    const result = verify(root, name)
    const ours = result.stderr
      .split('\n')
      .filter((line) => line.includes(name) || line.includes(basename(name, '.service')))
    expect({ status: result.status, ours }).toEqual({ status: 0, ours: [] })
  })

  it.skipIf(analyze.missing)(
    'while systemd-analyze verify does reject a broken unit (the check can fail)',
    async () => {
      const broken = unitText(manifest.replaceIps.unit)
        .replace(`ExecStart=${manifest.paths.agentProgram}`, 'ExecStart=qubes-whonix-agent-not-absolute')
        .replace('[Unit]', '[Unit]\nAftr=typo.service')
      const root = await verifyRoot({ 'broken.service': broken })
      const result = verify(root, 'broken.service')
      expect(result.status).not.toBe(0)
      expect(result.stderr).toMatch(/Aftr|not executable|absolute/)
    },
  )
})
