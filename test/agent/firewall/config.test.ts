import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { planFirewall } from '../../../agent/firewall/plan'
import { currentRole } from '../../../agent/role'
import { ended } from '../../helpers/process'
import { firewallQube, manifest, planFor, qubeContext } from './qube'

// The drop-ins are bash, read by the real bash: sourced in order in a child that prints the
// variables back; their code is never evaluated by the agent itself.
const [etc = '', usrLocal = '', persistent = ''] = manifest.firewall.dropInDirs

async function planWith(files: Readonly<Record<string, string>>, profile: 'gateway' | 'workstation' = 'gateway') {
  const root = await firewallQube(profile)
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true, mode: 0o755 })
    await writeFile(join(root, path), content, { mode: 0o644 })
  }
  return { root, context: await qubeContext(root) }
}

async function settingsOf(files: Readonly<Record<string, string>>) {
  const { context } = await planWith(files)
  return (await planFirewall(context, await currentRole(context))).settings
}

describe('the firewall configuration drop-ins', () => {
  afterEach(() => {
    delete process.env.VPN_FIREWALL
  })

  it('reads the three folders in order, files in byte order, later values winning', async () => {
    const settings = await settingsOf({
      [`${etc}/30_default.conf`]: 'DIR_PORT=81\nOR_PORT=444\nFLASHPROXY_PORT=9001\n',
      [`${etc}/50_user.conf`]: 'DIR_PORT=82\n',
      [`${usrLocal}/10_local.conf`]: 'OR_PORT=445\n',
      [`${persistent}/10_qubes.conf`]: 'FLASHPROXY_PORT=9003\n',
      [`${etc}/README`]: 'DIR_PORT=99\n',
    })
    expect([settings.DIR_PORT, settings.OR_PORT, settings.FLASHPROXY_PORT]).toEqual(['82', '445', '9003'])
  })

  it('takes bash as bash: +=, command substitution, the role guard, comments; empty means the default', async () => {
    const settings = await settingsOf({
      [`${etc}/30_whonix_workstation_default.conf`]:
        'if [ ! -f /nonexistent/anon-ws-base-files/workstation ]; then\n  return 0\nfi\nDIR_PORT=1\n',
      [`${etc}/50_user.conf`]:
        '# a comment\nEXTERNAL_OPEN_PORTS+=" 22 "\nEXTERNAL_OPEN_PORTS+=" $(echo 2222) "\nINTERNAL_OPEN_PORTS+=" 80 "\nOR_PORT=""\necho noise\n',
    })
    expect(settings.DIR_PORT).toBe('80')
    expect(settings.EXTERNAL_OPEN_PORTS).toBe('22 2222')
    expect(settings.INTERNAL_OPEN_PORTS.split(' ').slice(0, 2)).toEqual(['80', '9050'])
    expect(settings.OR_PORT).toBe('443')
  })

  it('ignores the process environment', async () => {
    process.env.VPN_FIREWALL = '1'
    const plan = await planFor('gateway')
    expect(plan.script).not.toContain('tun0')
  })

  it.each([
    ['a bash syntax error', 'if then fi\n', /syntax error/],
    ['a failing command', 'false\n', /reading the firewall configuration failed/],
    ['an unset variable', 'DIR_PORT=$NOT_SET\n', /NOT_SET: unbound variable/],
    ['an exit', 'exit 0\n', /did not finish/],
    [
      'an unknown switch value',
      'WORKSTATION_TRANSPARENT_TCP=yes\n',
      /^WORKSTATION_TRANSPARENT_TCP="yes": expected 0 or 1$/,
    ],
    ['an unknown mode', 'firewall_mode=open\n', /^firewall_mode="open": expected full or timesync-fail-closed$/],
    ['a port out of range', 'EXTERNAL_OPEN_PORTS="22 70000"\n', /"70000" is not port numbers/],
    ['a hostile interface name', 'EXT_IF="eth0; flush ruleset"\n', /is not interface names/],
    ['a bad address', 'NON_TOR_GATEWAY="10.0.0.0/33"\n', /is not IPv4 addresses or networks/],
  ])('refuses %s with one clear line (exit 3)', async (_what, content, message) => {
    const { context } = await planWith({ [`${etc}/50_user.conf`]: content })
    const error = await planFirewall(context, await currentRole(context)).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'FIREWALL_CONFIG', exitCode: 3 })
    expect((error as Error).message).toMatch(message)
    expect((error as Error).message).not.toContain('\n')
  })

  it('reads a drop-in that leaves a job running as soon as bash is done, and ends the job', async () => {
    const start = performance.now()
    const { root, context } = await planWith({
      [`${etc}/50_user.conf`]: 'EXT_IF=eth1\nsleep 60 &\necho $! > "${BASH_SOURCE%/*}/job.pid"\n',
    })
    expect((await planFirewall(context, await currentRole(context))).settings.EXT_IF).toBe('eth1')
    expect(performance.now() - start).toBeLessThan(15_000)
    expect(await ended(Number(await readFile(join(root, etc, 'job.pid'), 'utf8')))).toBe(true)
  })

  it('sources nothing someone else could have written', async () => {
    const { root, context } = await planWith({ [`${etc}/50_user.conf`]: 'DIR_PORT=81\n' })
    await chmod(join(root, etc, '50_user.conf'), 0o666)
    await expect(planFirewall(context, await currentRole(context))).rejects.toThrow(/writable by group or others/)
    await chmod(join(root, etc, '50_user.conf'), 0o644)
    await chown(join(root, etc, '50_user.conf'), 65534, 65534)
    await expect(planFirewall(context, await currentRole(context))).rejects.toThrow(/belongs to uid 65534/)
    await chown(join(root, etc, '50_user.conf'), 0, 0)
    await chmod(join(root, etc), 0o777)
    await expect(planFirewall(context, await currentRole(context))).rejects.toThrow(/whonix_firewall.d is writable/)
  })

  it('loads the workstation ruleset in a Whonix-Gateway template, as upstream', async () => {
    const plan = await planFor('template-gateway')
    expect(plan.role).toBe('workstation')
    // No gateway address in a template: the loopback fallback, and DNS open to any server.
    expect(plan.script).toContain('ip daddr 127.0.0.1 udp dport 53 counter accept')
    expect(plan.script).toContain('add rule inet filter output udp dport 53 counter accept')
  })

  it('leaves timesync mode once sdwdate succeeded', async () => {
    const root = await firewallQube('gateway', { dropIns: { '50_user.conf': 'firewall_mode=timesync-fail-closed\n' } })
    const context = await qubeContext(root)
    expect((await planFirewall(context, await currentRole(context))).mode).toBe('timesync-fail-closed')
    const [firstSuccess = ''] = manifest.firewall.sdwdateSuccess
    await mkdir(join(root, firstSuccess, '..'), { recursive: true })
    await writeFile(join(root, firstSuccess), '')
    const plan = await planFirewall(context, await currentRole(context))
    expect(plan).toMatchObject({ mode: 'full', configuredMode: 'timesync-fail-closed' })
    expect(plan.script).toContain('redirect to :9040')
    expect((await planFirewall(context, await currentRole(context), { mode: 'timesync-fail-closed' })).mode).toBe(
      'full',
    )
  })
})
