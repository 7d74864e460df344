import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseManifest, shippedManifest } from '../../../agent/features'
import { policyFile } from '../../../agent/qrexec-files/policy'
import { socketConditions } from '../../../agent/qrexec-files/units'
import { validatePolicyFile } from '../../../rpc/policy'
import { AGENT, runAgent } from '../../helpers/cli'
import { requirePart } from '../../helpers/parts'
import { tempRoot } from '../../helpers/sandbox'
import { manifestFile } from './helper'

const manifest = shippedManifest()
const services = Object.keys(manifest.services.table)
const analyze = requirePart('systemd-analyze', 'systemd')

describe('generated qrexec files', () => {
  it('files show prints the dom0 policy file, which the policy validator accepts', async () => {
    const shown = await runAgent(['files', 'show', '/etc/qubes/policy.d/40-qubes-whonix.policy'])
    expect(shown.code).toBe(0)
    expect(validatePolicyFile(shown.stdout)).toEqual([])
    expect(shown.stdout).toMatch(/^whonix\.Role \* @anyvm @anyvm deny$/m)
    expect(shown.stdout).toMatch(/^whonix\.Status \* @anyvm @anyvm deny$/m)
  })

  it('a link per service in /etc/qubes-rpc to its socket in /run/qubes-rpc, and rpc-config entries', async () => {
    const dir = await tempRoot()
    expect((await runAgent(['files', 'write', dir])).code).toBe(0)
    for (const service of services)
      expect(readlinkSync(join(dir, 'etc/qubes-rpc', service))).toBe(`/run/qubes-rpc/${service}`)
    for (const service of ['whonix.Role', 'whonix.Status', 'qubes.SetDateTime', 'qubes.SyncNtpClock'])
      expect(readFileSync(join(dir, 'etc/qubes/rpc-config', service), 'utf8')).toMatch(/^exit-on-service-eof = true$/m)
    const sockets = readdirSync(join(dir, 'lib/systemd/system')).filter(
      (name) => name.startsWith('qubes-whonix-agent-') && name.endsWith('.socket'),
    )
    expect(sockets.sort()).toEqual(
      [
        ...services.map((s) => `qubes-whonix-agent-${s}.socket`),
        'qubes-whonix-agent-control.socket',
        'qubes-whonix-agent-control-root.socket',
        // Not a qrexec service: the updates gate's TCP socket (Whonix templates), also passed to the daemon.
        'qubes-whonix-agent-updates-gate.socket',
      ].sort(),
    )
    const unit = readFileSync(join(dir, 'lib/systemd/system/qubes-whonix-agent-whonix.Role.socket'), 'utf8')
    expect(unit).toMatch(/^ListenStream=\/run\/qubes-rpc\/whonix\.Role$/m)
    expect(unit).toMatch(/^FileDescriptorName=whonix\.Role$/m)
    expect(unit).toMatch(/^SocketMode=0660$/m)
    expect(unit).toMatch(/^Service=qubes-whonix-agent\.service$/m)
  })

  it.skipIf(analyze.missing)('systemd-analyze verify accepts the daemon service and every socket unit', async () => {
    const dir = await tempRoot()
    // verify checks that ExecStart exists: point it at the built program.
    const config = manifestFile(dir, (m) => (m.paths.agentProgram = AGENT))
    expect((await runAgent(['--config', config, 'files', 'write', join(dir, 'out')])).code).toBe(0)
    const unitDir = join(dir, 'out/lib/systemd/system')
    const units = readdirSync(unitDir)
      .filter(
        (name) =>
          name.startsWith('qubes-whonix-agent.') ||
          (name.startsWith('qubes-whonix-agent-') && name.endsWith('.socket')),
      )
      .map((name) => join(unitDir, name))
    // One socket per service, the two control sockets (shared and root's), the updates gate's and the service.
    expect(units.length).toBe(services.length + 4)
    const result = spawnSync(analyze.path ?? '', ['verify', ...units], { encoding: 'utf8' })
    expect(result.stderr.split('\n').filter((line) => /qubes-whonix-agent/.test(line))).toEqual([])
    expect(result.status).toBe(0)
  })

  it('socket units exist only where marker files say the role serves the service', () => {
    expect(socketConditions(manifest, ['any'])).toEqual([])
    expect(socketConditions(manifest, ['whonix'])).toEqual([
      '|/usr/share/anon-gw-base-files/gateway',
      '|/usr/share/anon-ws-base-files/workstation',
    ])
    expect(socketConditions(manifest, ['gateway'])).toEqual([
      '/usr/share/anon-gw-base-files/gateway',
      '!/run/qubes/this-is-templatevm',
    ])
    expect(socketConditions(manifest, ['template-workstation'])).toEqual([
      '/usr/share/anon-ws-base-files/workstation',
      '/run/qubes/this-is-templatevm',
    ])
    expect(socketConditions(manifest, ['app', 'proxy'])).toEqual([
      '|/run/qubes/this-is-appvm',
      '|/run/qubes/this-is-proxyvm',
    ])
    // A disposable has no marker file: no condition, the daemon decides.
    expect(socketConditions(manifest, ['gateway', 'disposable'])).toEqual([])
  })

  it('the policy file is rendered from every service with callers', () => {
    const { path, content } = policyFile(manifest)
    expect(path).toBe('/etc/qubes/policy.d/40-qubes-whonix.policy')
    const lines = content.split('\n').filter((line) => line && !line.startsWith('#'))
    const expected = Object.entries(manifest.services.table).reduce(
      (count, [, entry]) => count + entry.callers.length,
      0,
    )
    expect(lines).toHaveLength(expected)
  })
})

describe('the services: section checker', () => {
  const withService = (yaml: string) =>
    readFileSync(new URL('../../../qubes.yaml', import.meta.url), 'utf8').replace(/^ {2}table:\n/m, `  table:\n${yaml}`)
  it('refuses a policy line the Qubes parser would refuse, naming the line', async () => {
    const text = withService(
      '    test.Bad:\n      describe: x\n      handler: role\n      servedBy: [any]\n      callers:\n        - { source: "@anyvm", target: "@default", action: allow }\n',
    )
    const line = text.split('\n').findIndex((l) => l.includes('target: "@default"')) + 1
    await expect(parseManifest(text, 'm.yaml')).rejects.toThrow(
      `m.yaml:${line}: services.table.test.Bad.callers.0: an allow rule for @default must name target=`,
    )
  })
  it('refuses an unknown role selector, a forceUser with socket options, and a bad service name', async () => {
    await expect(
      parseManifest(
        withService(
          '    test.A:\n      describe: x\n      handler: role\n      servedBy: [gateways]\n      callers: []\n',
        ),
        'm.yaml',
      ),
    ).rejects.toThrow(/servedBy.0: expected one of any, qubes/)
    await expect(
      parseManifest(
        withService(
          '    test.A:\n      describe: x\n      handler: role\n      servedBy: [any]\n      callers: []\n      rpcConfig: { forceUser: user, exitOnServiceEof: true }\n',
        ),
        'm.yaml',
      ),
    ).rejects.toThrow(/forceUser cannot be combined/)
    await expect(
      parseManifest(
        withService('    test+A:\n      describe: x\n      handler: role\n      servedBy: [any]\n      callers: []\n'),
        'm.yaml',
      ),
    ).rejects.toThrow(/test\+A/)
  })
  it('a handler name that the registry does not know stops the daemon with a clear error', async () => {
    const root = await tempRoot()
    const config = manifestFile(root, (m) => (m.services.table['whonix.Role'].handler = 'no-such-handler'))
    const result = await runAgent(['--root', root, '--config', config, 'daemon'])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/no service handler named "no-such-handler"/)
  })
})
