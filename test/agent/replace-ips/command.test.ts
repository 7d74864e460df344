import {
  chmod,
  chown,
  lchown,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { shippedManifest } from '../../../agent/features'
import type { ReplaceIpsReport } from '../../../agent/replace-ips/apply'
import { buildSimulatedQube, writeQubesdbData } from '../../../agent/simulate/build'
import { PROFILES, type ProfileName } from '../../../agent/simulate/profiles'
import { runAgent } from '../../helpers/cli'
import { requirePart } from '../../helpers/parts'
import { tempRoot } from '../../helpers/sandbox'
import { startTestBus, type TestBus } from '../systemd/dbus-daemon'
import { startSystemd1StandIn, type Systemd1StandIn } from '../systemd/systemd1-stand-in'

// The built agent, run as a process on simulated qubes; systemd is a test service on a real dbus-daemon.
const manifest = shippedManifest()
const dbusDaemon = requirePart('dbus-daemon', 'dbus')
const TOR = manifest.systemd.torUnit
const CACHE = manifest.replaceIps.cacheDirectory
const TOR_DEFAULTS = '/usr/share/tor/tor-service-defaults-torrc.anondist'
const INTERNAL_IP = '/usr/share/whonix-gw-network-conf/network_internal_ip.txt'

async function qube(profile: ProfileName, qubesdb: Record<string, string> = {}): Promise<string> {
  const root = await tempRoot('qwa-replace-ips-')
  await buildSimulatedQube(root, PROFILES[profile], manifest)
  await writeQubesdbData(join(root, manifest.paths.simulatedQubesdb), qubesdb)
  return root
}

const at = (root: string, path: string) => join(root, path)
const read = (root: string, path: string) => readFile(at(root, path), 'utf8')
const put = async (root: string, path: string, content: string) => {
  await mkdir(join(at(root, path), '..'), { recursive: true })
  await writeFile(at(root, path), content)
}

describe.skipIf(dbusDaemon.missing)('replace-ips (the built agent on simulated qubes)', () => {
  let bus: TestBus
  let systemd: Systemd1StandIn
  beforeAll(async () => {
    bus = await startTestBus(dbusDaemon.path ?? 'dbus-daemon')
    systemd = await startSystemd1StandIn(bus.address, { [TOR]: 'active' })
  })
  afterAll(async () => {
    systemd?.stop()
    await bus?.stop()
  })

  const replaceIps = async (root: string, ...extra: string[]) => {
    const run = await runAgent(['--root', root, '--json', 'replace-ips', ...extra], {
      env: { ...process.env, PATH: '/usr/bin:/bin', DBUS_SYSTEM_BUS_ADDRESS: bus.address },
    })
    if (run.stdout === '') throw new Error(`no output (exit ${run.code}): ${run.stderr}`)
    return { code: run.code, report: JSON.parse(run.stdout) as ReplaceIpsReport }
  }
  const outcome = (report: ReplaceIpsReport, path: string) => report.files.find((file) => file.path === path)?.result

  it('on the gateway: rewrites the Tor and network files, saves the address, restarts an active Tor once', async () => {
    const root = await qube('gateway')
    const resolvBefore = await stat(at(root, '/etc/resolv.conf'))
    await chmod(at(root, TOR_DEFAULTS), 0o640)
    const restarts = systemd.restarts.length
    const first = await replaceIps(root)
    expect(first.code).toBe(0)
    expect(await read(root, INTERNAL_IP)).toBe('10.137.0.8\n')
    const torDefaults = await read(root, TOR_DEFAULTS)
    expect(torDefaults).toContain('SocksPort 10.137.0.8:9050 IsolateDestAddr IsolateDestPort\n')
    expect(torDefaults).toContain('TransPort 10.137.0.8:9040\n')
    expect(torDefaults).toContain('## The internal network: 10.152.152.0/24') // a comment line
    expect((await stat(at(root, TOR_DEFAULTS))).mode & 0o7777).toBe(0o640)
    // Nothing to replace in resolv.conf: not rewritten at all.
    expect(outcome(first.report, '/etc/resolv.conf')).toBe('unchanged')
    expect((await stat(at(root, '/etc/resolv.conf'))).ino).toBe(resolvBefore.ino)
    expect(await read(root, `${CACHE}/whonix-ip-gateway`)).toBe('10.137.0.8')
    expect(first.report.tor).toMatchObject({ unit: TOR, action: 'restarted' })
    expect(systemd.restarts.slice(restarts)).toEqual([{ unit: TOR, mode: 'replace' }])

    // Again: nothing changes, nothing is written, Tor is left alone.
    const inode = (await stat(at(root, TOR_DEFAULTS))).ino
    const second = await replaceIps(root)
    expect(second.code).toBe(0)
    expect(second.report.files.every((file) => file.result === 'unchanged' || file.result === 'missing')).toBe(true)
    expect(second.report.saved).toEqual([{ file: 'whonix-ip-gateway', address: '10.137.0.8', result: 'unchanged' }])
    expect(second.report.tor).toMatchObject({ action: 'not-needed' })
    expect((await stat(at(root, TOR_DEFAULTS))).ino).toBe(inode)
    expect(systemd.restarts.length).toBe(restarts + 1)
  })

  it('replaces a saved last address that differs from the default, then saves the new one', async () => {
    const root = await qube('gateway', {
      '/qubes-netvm-gateway': '10.138.9.3',
      '/qubes-netvm-gateway6': 'fd09:24ef:4179::a89:3',
    })
    await put(root, `${CACHE}/whonix-ip-gateway`, '10.137.0.8\n')
    await put(
      root,
      '/usr/local/etc/torrc.d/50_user.conf',
      'SocksPort 10.137.0.8:9200\n#SocksPort 10.137.0.8:9201\nSocksPort 10.152.152.10:9202\nSocksPort [fd19:c33d:88bc::10]:9203\n',
    )
    const { code, report } = await replaceIps(root)
    expect(code).toBe(0)
    expect(await read(root, '/usr/local/etc/torrc.d/50_user.conf')).toBe(
      'SocksPort 10.138.9.3:9200\n#SocksPort 10.137.0.8:9201\nSocksPort 10.138.9.3:9202\nSocksPort [fd09:24ef:4179::a89:3]:9203\n',
    )
    expect(report.addresses[0]).toMatchObject({ current: '10.138.9.3', replaces: ['10.137.0.8', '10.152.152.10'] })
    expect(await read(root, `${CACHE}/whonix-ip-gateway`)).toBe('10.138.9.3')
    expect(await read(root, `${CACHE}/whonix-ip6-gateway`)).toBe('fd09:24ef:4179::a89:3')
  })

  it('does not restart a Tor that is not active', async () => {
    systemd.units.set(TOR, 'inactive')
    try {
      const root = await qube('gateway')
      const restarts = systemd.restarts.length
      const { report } = await replaceIps(root)
      expect(report.tor).toMatchObject({ action: 'not-active' })
      expect(systemd.restarts.length).toBe(restarts)
    } finally {
      systemd.units.set(TOR, 'active')
    }
  })

  it('on a workstation: its own address and its gateway, through the resolv.conf link, keeping owner and mode', async () => {
    const root = await qube('workstation', {
      '/qubes-ip6': 'fd09:24ef:4179::a89:21',
      '/qubes-gateway6': 'fd09:24ef:4179::a89:8',
    })
    // /etc/resolv.conf as a link (absolute target, taken under the root) to the Whonix copy.
    await rm(at(root, '/etc/resolv.conf'))
    await put(root, '/etc/resolv.conf.whonix', 'nameserver 10.152.152.10\nnameserver fd19:c33d:88bc::10\n')
    await symlink('/etc/resolv.conf.whonix', at(root, '/etc/resolv.conf'))
    await put(
      root,
      '/home/user/.config/hexchat/hexchat.conf',
      'net_proxy_host = 10.152.152.10\nlocal = 10.152.152.11\nother = 10.152.152.1\n',
    )
    if (process.getuid?.() === 0) await chown(at(root, '/home/user/.config/hexchat/hexchat.conf'), 1000, 1000)
    await chmod(at(root, '/home/user/.config/hexchat/hexchat.conf'), 0o600)
    const { code, report } = await replaceIps(root)
    expect(code).toBe(0)
    expect((await lstat(at(root, '/etc/resolv.conf'))).isSymbolicLink()).toBe(true)
    expect(await readlink(at(root, '/etc/resolv.conf'))).toBe('/etc/resolv.conf.whonix')
    expect(await read(root, '/etc/resolv.conf.whonix')).toBe(
      'nameserver 10.137.0.8\nnameserver fd09:24ef:4179::a89:8\n',
    )
    expect(await read(root, '/home/user/.config/hexchat/hexchat.conf')).toBe(
      'net_proxy_host = 10.137.0.8\nlocal = 10.137.0.21\nother = 10.152.152.1\n',
    )
    const hexchat = await stat(at(root, '/home/user/.config/hexchat/hexchat.conf'))
    expect(hexchat.mode & 0o7777).toBe(0o600)
    if (process.getuid?.() === 0) expect([hexchat.uid, hexchat.gid]).toEqual([1000, 1000])
    expect(report.tor).toBeNull()
    expect(Object.fromEntries(report.saved.map((saved) => [saved.file, saved.address]))).toEqual({
      'whonix-ip-local': '10.137.0.21',
      'whonix-ip-gateway': '10.137.0.8',
      'whonix-ip6-local': 'fd09:24ef:4179::a89:21',
      'whonix-ip6-gateway': 'fd09:24ef:4179::a89:8',
    })
  })

  it.skipIf(process.getuid?.() !== 0)(
    "never writes a root file through a user's directory link (~/.xchat2 to a root-only directory)",
    async () => {
      const root = await qube('workstation')
      await mkdir(at(root, '/home/user'), { recursive: true })
      await chown(at(root, '/home/user'), 1000, 1000)
      await mkdir(at(root, '/root-only'), { mode: 0o700 })
      await writeFile(at(root, '/root-only/xchat.conf'), 'proxy 10.152.152.10\n', { mode: 0o600 })
      await rm(at(root, '/home/user/.xchat2'), { recursive: true, force: true })
      await symlink('../../root-only', at(root, '/home/user/.xchat2'))
      await lchown(at(root, '/home/user/.xchat2'), 1000, 1000)
      const { code, report } = await replaceIps(root)
      expect(code).toBe(1)
      expect(report.files.find((file) => file.path === '/home/user/.xchat2/xchat.conf')).toMatchObject({
        result: 'failed',
        detail: expect.stringContaining('not following it'),
      })
      expect(await read(root, '/root-only/xchat.conf')).toBe('proxy 10.152.152.10\n')
      expect((await stat(at(root, '/root-only/xchat.conf'))).mode & 0o7777).toBe(0o600)
      expect(await readdir(at(root, '/root-only'))).toEqual(['xchat.conf'])
    },
  )

  it('never runs in a template', async () => {
    const root = await qube('template-gateway', { '/qubes-netvm-gateway': '10.137.0.8' })
    const before = await read(root, TOR_DEFAULTS)
    const { code, report } = await replaceIps(root)
    expect(code).toBe(0)
    expect(report).toMatchObject({ applicable: false, files: [] })
    expect(report.reason).toMatch(/template/)
    expect(await read(root, TOR_DEFAULTS)).toBe(before)
  })

  it('a file that cannot be rewritten: the others are, the address is saved, exit 1; a second boot with another address converges', async () => {
    const root = await qube('gateway')
    await rm(at(root, '/etc/resolv.conf.anondist'), { force: true })
    await mkdir(at(root, '/etc/resolv.conf.anondist')) // a directory where a file belongs
    const first = await replaceIps(root)
    expect(first.code).toBe(1)
    expect(outcome(first.report, '/etc/resolv.conf.anondist')).toBe('failed')
    expect(first.report.problems.join('\n')).toMatch(/resolv\.conf\.anondist/)
    expect(await read(root, INTERNAL_IP)).toBe('10.137.0.8\n')
    expect(first.report.saved).toMatchObject([{ file: 'whonix-ip-gateway', result: 'written' }])
    expect(await read(root, `${CACHE}/whonix-ip-gateway`)).toBe('10.137.0.8')

    // The next boot: another address, the same broken file.
    await writeQubesdbData(join(root, manifest.paths.simulatedQubesdb), { '/qubes-netvm-gateway': '10.138.9.3' })
    const second = await replaceIps(root)
    expect(second.code).toBe(1)
    expect(await read(root, INTERNAL_IP)).toBe('10.138.9.3\n')
    const torDefaults = await read(root, TOR_DEFAULTS)
    expect(torDefaults).toContain('SocksPort 10.138.9.3:9050')
    expect(torDefaults).not.toMatch(/^[^#\n]*10\.(137\.0\.8|152\.152\.10)(?![0-9])/m)
    expect(await read(root, `${CACHE}/whonix-ip-gateway`)).toBe('10.138.9.3')
  })

  it('a file that failed and is repaired later gets the newest address: the old ones it may hold are kept for it', async () => {
    const root = await qube('gateway', { '/qubes-netvm-gateway': '10.138.9.3' })
    // A previous boot wrote 10.137.0.8 everywhere; now resolv.conf.anondist cannot be written.
    await put(root, `${CACHE}/whonix-ip-gateway`, '10.137.0.8')
    await put(root, '/usr/local/etc/torrc.d/50_user.conf', 'SocksPort 10.137.0.8:9200\n')
    await rm(at(root, '/etc/resolv.conf.anondist'), { force: true })
    await mkdir(at(root, '/etc/resolv.conf.anondist'))
    const first = await replaceIps(root)
    expect(first.code).toBe(1)
    expect(first.report.saved).toMatchObject([
      { file: 'whonix-ip-gateway', address: '10.138.9.3', result: 'written', earlier: ['10.137.0.8'] },
    ])
    expect(await read(root, '/usr/local/etc/torrc.d/50_user.conf')).toBe('SocksPort 10.138.9.3:9200\n')
    expect(await read(root, `${CACHE}/whonix-ip-gateway.earlier`)).toBe('10.137.0.8\n')

    // Repaired before the next boot, still holding the address of the boot before.
    await rm(at(root, '/etc/resolv.conf.anondist'), { recursive: true })
    await put(root, '/etc/resolv.conf.anondist', 'nameserver 10.137.0.8\n')
    await writeQubesdbData(join(root, manifest.paths.simulatedQubesdb), { '/qubes-netvm-gateway': '10.139.1.5' })
    const second = await replaceIps(root)
    expect(second.code).toBe(0)
    expect(await read(root, '/etc/resolv.conf.anondist')).toBe('nameserver 10.139.1.5\n')
    expect(await read(root, '/usr/local/etc/torrc.d/50_user.conf')).toBe('SocksPort 10.139.1.5:9200\n')
    expect(second.report.saved).toEqual([{ file: 'whonix-ip-gateway', address: '10.139.1.5', result: 'written' }])
    // Every file written: nothing earlier is kept any more.
    await expect(stat(at(root, `${CACHE}/whonix-ip-gateway.earlier`))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('on a workstation: the leak test script gets the gateway address', async () => {
    const root = await qube('workstation')
    const script = '/usr/libexec/helper-scripts/leak-tests/simple_ping.py'
    await put(root, script, '#!/usr/bin/python3\n# pings 10.152.152.10\nip = "10.152.152.10"\n')
    const { code, report } = await replaceIps(root)
    expect(code).toBe(0)
    expect(outcome(report, script)).toBe('changed')
    expect(await read(root, script)).toBe('#!/usr/bin/python3\n# pings 10.152.152.10\nip = "10.137.0.8"\n')
  })

  it('refuses an invalid address from qubesdb and changes nothing', async () => {
    const root = await qube('gateway', { '/qubes-netvm-gateway': '10.137.0.300' })
    const before = await read(root, TOR_DEFAULTS)
    const { code, report } = await replaceIps(root)
    expect(code).toBe(1)
    expect(report.problems.join('\n')).toMatch(/qubes-netvm-gateway/)
    expect(await read(root, TOR_DEFAULTS)).toBe(before)
  })

  it('with --dry-run says what would change and writes nothing', async () => {
    const root = await qube('gateway')
    const before = await read(root, TOR_DEFAULTS)
    const restarts = systemd.restarts.length
    const { report } = await replaceIps(root, '--dry-run')
    expect(outcome(report, TOR_DEFAULTS)).toBe('would-change')
    expect(report.tor).toMatchObject({ action: 'would-restart' })
    expect(await read(root, TOR_DEFAULTS)).toBe(before)
    expect(systemd.restarts.length).toBe(restarts)
  })
})
