import { execFileSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { formatEndpoint, tcpEndpoint } from '../../../agent/stacked-tor/endpoint'
import { ipv6State } from '../../../agent/stacked-tor/inputs'
import { idFromGetent } from '../../../agent/stacked-tor/owners'
import { stackedTorMode } from '../../../agent/stacked-tor/part'
import { gatewayFrom, templatePlan, workstationPlan, type WorkstationInputs } from '../../../agent/stacked-tor/plan'
import { parseManifest, shippedManifest } from '../../../agent/features'
import type { Manifest } from '../../../agent/manifest/schema'
import type { Role } from '../../../agent/role'
import { torBrowserEnvironment, torBrowserProfile } from '../../../agent/tor-state/profile'
import { tempRoot } from '../../helpers/sandbox'
import { manifestText, type RawManifest } from './helpers'

const manifest = shippedManifest()
const section = manifest.stackedTor
const present = (value: string) => gatewayFrom('/qubes-gateway', { state: 'present', value })
const inputs = (overrides: Partial<WorkstationInputs> = {}): WorkstationInputs => ({
  gateway: present('10.137.0.8'),
  gateway6: gatewayFrom('/qubes-gateway6', { state: 'absent' }),
  ipv6: { enabled: false, reason: 'IPv6 is disabled' },
  under: (path) => `/sandbox${path}`,
  ...overrides,
})
const rows = (plan: ReturnType<typeof workstationPlan>) =>
  plan.map((row) => [row.name, row.target === null ? null : formatEndpoint(row.target)])

describe("a workstation's forwarding table (docs/qubes-facts.md)", () => {
  it('forwards each loopback port and socket to the same port of /qubes-gateway, 9151 to 9051', () => {
    const plan = workstationPlan(section, inputs())
    expect(rows(plan)).toEqual([
      ['127.0.0.1:9050', '10.137.0.8:9050'],
      ['127.0.0.1:9150', '10.137.0.8:9150'],
      ['127.0.0.1:9051', '10.137.0.8:9051'],
      ['127.0.0.1:9102', '10.137.0.8:9102'],
      ['127.0.0.1:9151', '10.137.0.8:9051'],
      ['[::1]:9050', null],
      ['[::1]:9150', null],
      ['[::1]:9051', null],
      ['[::1]:9102', null],
      ['[::1]:9151', null],
      ['/run/anon-ws-disable-stacked-tor/127.0.0.1_9050.sock', '10.137.0.8:9050'],
      ['/run/anon-ws-disable-stacked-tor/127.0.0.1_9150.sock', '10.137.0.8:9150'],
      ['/run/anon-ws-disable-stacked-tor/127.0.0.1_9051.sock', '10.137.0.8:9051'],
      ['/run/anon-ws-disable-stacked-tor/127.0.0.1_9151.sock', '10.137.0.8:9051'],
      ['/run/tor/socks', '10.137.0.8:9050'],
      ['/run/tor/control', '10.137.0.8:9051'],
    ])
    const socks = plan.find((row) => row.name === '/run/tor/socks')
    expect(socks?.listen).toEqual({ kind: 'unix', path: '/sandbox/run/tor/socks' })
    expect(socks?.socket).toEqual({ mode: 0o666 })
    expect(plan.find((row) => row.name === '[::1]:9050')?.reason).toBe('IPv6 is disabled: not listening')
  })

  it.each([
    ['missing', { state: 'absent' } as const, 'qubesdb has no /qubes-gateway'],
    [
      'invalid',
      { state: 'invalid', reason: '"10.1.1" is not an IPv4 address' } as const,
      'qubesdb /qubes-gateway is invalid: "10.1.1" is not an IPv4 address',
    ],
    [
      'unreadable',
      { state: 'failed', reason: 'qubesdb-read did not answer' } as const,
      'qubesdb /qubes-gateway could not be read',
    ],
    ['this qube itself', { state: 'present', value: '127.0.0.1' } as const, 'an address of this qube itself'],
    ['another loopback address', { state: 'present', value: '127.10.0.1' } as const, 'an address of this qube itself'],
    ['unspecified', { state: 'present', value: '0.0.0.0' } as const, 'an address of this qube itself'],
  ])('listens nowhere, never on 127.0.0.1, when the gateway address is %s', (_name, read, reason) => {
    const plan = workstationPlan(section, inputs({ gateway: gatewayFrom('/qubes-gateway', read) }))
    const ipv4AndSockets = plan.filter((row) => !row.name.startsWith('[::1]'))
    expect(ipv4AndSockets).toHaveLength(11)
    for (const row of ipv4AndSockets) {
      expect(row.target).toBeNull()
      expect(row.reason).toContain(reason)
      expect(row.reason).toContain('fail closed')
    }
  })

  it('forwards [::1] to the bracketed /qubes-gateway6 when IPv6 is enabled', () => {
    const plan = workstationPlan(
      section,
      inputs({
        ipv6: { enabled: true },
        gateway6: gatewayFrom('/qubes-gateway6', { state: 'present', value: 'fd09:24ef:4179::a89:8' }),
      }),
    )
    const v6 = plan.filter((row) => row.name.startsWith('[::1]'))
    expect(rows(v6)).toEqual([
      ['[::1]:9050', '[fd09:24ef:4179::a89:8]:9050'],
      ['[::1]:9150', '[fd09:24ef:4179::a89:8]:9150'],
      ['[::1]:9051', '[fd09:24ef:4179::a89:8]:9051'],
      ['[::1]:9102', '[fd09:24ef:4179::a89:8]:9102'],
      ['[::1]:9151', '[fd09:24ef:4179::a89:8]:9051'],
    ])
    expect(v6[0]?.listen).toEqual({ kind: 'tcp', host: '::1', port: 9050 })
  })

  it('keeps [::1] closed when IPv6 is on but qubesdb has no /qubes-gateway6 or gives ::1, and IPv4 unaffected', () => {
    for (const gateway6 of [
      gatewayFrom('/qubes-gateway6', { state: 'absent' }),
      gatewayFrom('/qubes-gateway6', { state: 'present', value: '::1' }),
    ]) {
      const plan = workstationPlan(section, inputs({ ipv6: { enabled: true }, gateway6 }))
      for (const row of plan.filter((entry) => entry.name.startsWith('[::1]'))) expect(row.target).toBeNull()
      expect(plan.find((row) => row.name === '127.0.0.1:9050')?.target).toEqual(tcpEndpoint('10.137.0.8', 9050))
    }
  })

  it("forwards a template's 127.0.0.1:9050 to the manifest's gateway address", () => {
    expect(rows(templatePlan(section, manifest.whonix.addresses.gateway))).toEqual([
      ['127.0.0.1:9050', '10.152.152.10:9050'],
    ])
  })
})

describe('which qubes run the forwarders', () => {
  const role = (whonix: Role['whonix'], qubeClass: Role['class']): Role =>
    ({
      schema: 1,
      qubes: true,
      whonix,
      class: qubeClass,
      providesNetwork: false,
      persistence: null,
      name: null,
      services: [],
      evidence: {},
      warnings: [],
    }) as unknown as Role
  it.each([
    ['workstation', 'app', 'workstation'],
    ['workstation', 'disposable', 'workstation'],
    ['workstation', 'standalone', 'workstation'],
    ['workstation', 'template', 'template'],
    ['gateway', 'template', null],
    ['gateway', 'proxy', null],
    [null, 'app', null],
    [null, 'template', null],
  ] as const)('a %s %s: %s', (whonix, qubeClass, mode) => {
    expect(stackedTorMode(role(whonix, qubeClass), section)).toBe(mode)
  })
})

describe('the stackedTor manifest section', () => {
  const rejects = async (edit: (raw: RawManifest) => void, message: string) => {
    await expect(parseManifest(await manifestText(edit), 'test.yaml')).rejects.toThrow(message)
  }
  it('rejects a port listed twice', () =>
    rejects((raw) => raw.stackedTor.tcp.push({ port: 9050, to: 9051 }), 'stackedTor.tcp.5: port 9050 is listed twice'))
  it('rejects a socket outside the listed directories', () =>
    rejects(
      (raw) => raw.stackedTor.unix.push({ path: '/tmp/socks', to: 9050 }),
      '/tmp/socks is not directly in one of the directories',
    ))
  it('rejects a variable exported for two sockets', () =>
    rejects(
      (raw) => raw.stackedTor.unix.push({ path: '/run/tor/other', to: 9050, exportAs: 'TOR_SOCKS_IPC_PATH' }),
      'variable TOR_SOCKS_IPC_PATH is listed twice',
    ))
  it('rejects a mode that is not octal', () =>
    rejects((raw) => (raw.stackedTor.socketMode = '0999'), 'stackedTor.socketMode'))
  it('rejects an IPv6 address as the IPv4 loopback', () =>
    rejects(
      (raw) => (raw.stackedTor.loopback = { ipv4: '::1', ipv6: '::1' }),
      'stackedTor.loopback.ipv4: "::1" is not an IPv4 address',
    ))
  it('rejects a connection limit of zero', () =>
    rejects((raw) => (raw.stackedTor.limits.maxConnections = 0), 'stackedTor.limits.maxConnections: 0 is outside'))
})

describe("Tor Browser's environment", () => {
  it('exports the fixed variables and the 9150/9151 socket paths', () => {
    expect(torBrowserEnvironment(manifest)).toEqual({
      TOR_SKIP_LAUNCH: '1',
      TOR_SKIP_CONTROLPORTTEST: '1',
      TOR_NO_DISPLAY_NETWORK_SETTINGS: '1',
      TOR_SOCKS_IPC_PATH: '/run/anon-ws-disable-stacked-tor/127.0.0.1_9150.sock',
      TOR_CONTROL_IPC_PATH: '/run/anon-ws-disable-stacked-tor/127.0.0.1_9151.sock',
    })
  })

  it('is a profile.d file that sh sources: set in a workstation, not elsewhere', async () => {
    const dir = await tempRoot()
    const marker = join(dir, 'workstation')
    const custom: Manifest = { ...manifest, paths: { ...manifest.paths, workstationMarker: marker } }
    const [file] = torBrowserProfile(custom)
    expect(file?.path).toBe('/etc/profile.d/30_qubes-whonix-tor-browser.sh')
    const script = join(dir, 'profile.sh')
    await writeFile(script, file?.kind === 'file' ? file.content : '')
    const environment = () =>
      execFileSync('sh', ['-c', `. "${script}"; env`], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } })
    expect(environment()).not.toContain('TOR_')
    await mkdir(dir, { recursive: true })
    await writeFile(marker, '')
    const lines = environment().split('\n')
    expect(lines).toContain('TOR_SKIP_LAUNCH=1')
    expect(lines).toContain('TOR_SOCKS_IPC_PATH=/run/anon-ws-disable-stacked-tor/127.0.0.1_9150.sock')
    expect(lines).toContain('TOR_CONTROL_IPC_PATH=/run/anon-ws-disable-stacked-tor/127.0.0.1_9151.sock')
    expect(lines).toContain('TOR_NO_DISPLAY_NETWORK_SETTINGS=1')
  })
})

describe('inputs read from the system', () => {
  it('takes the owner ids from getent lines of the right name only', () => {
    expect(idFromGetent('debian-tor:x:106:112::/var/lib/tor:/bin/false\n', 'debian-tor')).toBe(106)
    expect(idFromGetent('debian-tor:x:112:user\n', 'debian-tor')).toBe(112)
    expect(idFromGetent('debian-torx:x:106:112::/:/bin/false', 'debian-tor')).toBeNull()
    expect(idFromGetent('debian-tor:x:-1:0', 'debian-tor')).toBeNull()
    expect(idFromGetent('debian-tor:x:4294967295:0', 'debian-tor')).toBeNull()
    expect(idFromGetent('', 'debian-tor')).toBeNull()
  })

  it('enables IPv6 only when the kernel switch reads 0', async () => {
    const dir = await tempRoot()
    const flag = join(dir, 'disable_ipv6')
    expect(await ipv6State(flag, '/proc/x')).toEqual({
      enabled: false,
      reason: 'IPv6 is not available (/proc/x: ENOENT)',
    })
    await writeFile(flag, '1\n')
    expect(await ipv6State(flag, '/proc/x')).toEqual({ enabled: false, reason: 'IPv6 is disabled (/proc/x = "1")' })
    await writeFile(flag, '0\n')
    expect(await ipv6State(flag, '/proc/x')).toEqual({ enabled: true })
  })
})
