import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GatewayInterfaceReport } from '../../../agent/gateway-interface/setup'
import { shippedManifest } from '../../../agent/features'
import { buildSimulatedQube, writeQubesdbData } from '../../../agent/simulate/build'
import { PROFILES, type ProfileName } from '../../../agent/simulate/profiles'
import { AGENT } from '../../helpers/cli'
import { canUseNetns, requirePart } from '../../helpers/parts'
import { tempRoot } from '../../helpers/sandbox'

// The agent runs for real inside a network namespace of its own (ip netns exec), with a
// simulated gateway's qubesdb; the interface it builds is then read back with ip itself.
const manifest = shippedManifest()
const ip = requirePart('ip', 'iproute2')
const netns = !ip.missing && canUseNetns()
if (!netns && process.env.CI === 'true')
  throw new Error('network namespaces are required in CI (run the tests as root)')
const IFACE = manifest.gatewayInterface.name
const namespaces: string[] = []

function newNamespace(): string {
  const name = `qwa-gw-${process.pid}-${randomBytes(3).toString('hex')}`
  execFileSync('ip', ['netns', 'add', name])
  namespaces.push(name)
  return name
}

/** Whether this kernel has the link type (a test VM may lack the dummy driver). */
function kernelHas(kind: string): boolean {
  const name = newNamespace()
  return spawnSync('ip', ['-n', name, 'link', 'add', 'probe0', 'type', kind], { stdio: 'ignore' }).status === 0
}

let kind = manifest.gatewayInterface.kind
let config: string | undefined
let configDir: string | undefined

beforeAll(async () => {
  if (!netns) return
  if (kernelHas(kind)) return
  // Same code path, another link type: the shipped manifest with only `kind` changed.
  kind = 'bridge'
  console.warn(
    `this kernel has no ${manifest.gatewayInterface.kind} driver: the namespace tests create a ${kind} instead`,
  )
  configDir = await mkdtemp(join(tmpdir(), 'qwa-gw-config-'))
  config = join(configDir, 'qubes.yaml')
  const shipped = await readFile(new URL('../../../qubes.yaml', import.meta.url), 'utf8')
  await writeFile(config, shipped.replace(`  kind: ${manifest.gatewayInterface.kind}\n`, `  kind: ${kind}\n`))
})
afterAll(async () => {
  for (const name of namespaces) spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' })
  if (configDir) await rm(configDir, { recursive: true, force: true })
})

async function gateway(qubesdb: Record<string, string>, profile: ProfileName = 'gateway'): Promise<string> {
  const root = await tempRoot('qwa-gw-')
  await buildSimulatedQube(root, PROFILES[profile], manifest)
  await writeQubesdbData(join(root, manifest.paths.simulatedQubesdb), qubesdb)
  return root
}

/** `ip netns exec NS node AGENT --root ROOT --json gateway-interface`. */
function runInside(
  namespace: string,
  root: string,
): Promise<{ code: number | null; report: GatewayInterfaceReport | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const args = [
      'netns',
      'exec',
      namespace,
      process.execPath,
      AGENT,
      '--root',
      root,
      ...(config ? ['--config', config] : []),
      '--json',
      'gateway-interface',
    ]
    const child = spawn('ip', args, { env: { ...process.env, PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) =>
      resolve({ code, report: stdout === '' ? null : (JSON.parse(stdout) as GatewayInterfaceReport), stderr }),
    )
  })
}

function interfaceIn(namespace: string): { kind: string | null; up: boolean; addresses: string[] } | null {
  const result = spawnSync('ip', ['-n', namespace, '-json', '-details', 'address', 'show', 'dev', IFACE], {
    encoding: 'utf8',
  })
  if (result.status !== 0) return null
  const [entry] = JSON.parse(result.stdout) as {
    flags: string[]
    linkinfo?: { info_kind?: string }
    addr_info: { local: string; prefixlen: number; scope: string }[]
  }[]
  if (!entry) return null
  return {
    kind: entry.linkinfo?.info_kind ?? null,
    up: entry.flags.includes('UP'),
    addresses: entry.addr_info
      .filter((info) => info.scope === 'global')
      .map((info) => `${info.local}/${info.prefixlen}`)
      .sort(),
  }
}

const QUBESDB = {
  '/qubes-netvm-gateway': '10.137.0.8',
  '/qubes-netvm-netmask': '255.255.255.255',
  '/qubes-netvm-gateway6': 'fd09:24ef:4179::a89:8',
}

describe.skipIf(!netns)('gateway-interface in a real network namespace', () => {
  it('creates the interface with both addresses, up; a second run changes nothing', async () => {
    const namespace = newNamespace()
    const root = await gateway(QUBESDB)
    const first = await runInside(namespace, root)
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(first.report).toMatchObject({ applicable: true, found: 'absent', result: 'created' })
    expect(interfaceIn(namespace)).toEqual({
      kind,
      up: true,
      addresses: ['10.137.0.8/32', 'fd09:24ef:4179::a89:8/128'],
    })

    const second = await runInside(namespace, root)
    expect(second.code).toBe(0)
    expect(second.report).toMatchObject({ found: 'ours', result: 'unchanged', commands: [] })
    expect(interfaceIn(namespace)).toEqual({
      kind,
      up: true,
      addresses: ['10.137.0.8/32', 'fd09:24ef:4179::a89:8/128'],
    })
  })

  it('completes an interface left half-built (an address missing, down)', async () => {
    const namespace = newNamespace()
    const root = await gateway({ ...QUBESDB, '/qubes-netvm-netmask': '255.255.255.0' })
    execFileSync('ip', ['-n', namespace, 'link', 'add', IFACE, 'type', kind])
    execFileSync('ip', ['-n', namespace, '-6', 'address', 'add', 'fd09:24ef:4179::a89:8/128', 'dev', IFACE])
    const run = await runInside(namespace, root)
    expect(run.code).toBe(0)
    expect(run.report?.result).toBe('completed')
    expect(run.report?.commands.some((command) => command.includes('link add'))).toBe(false)
    expect(interfaceIn(namespace)).toEqual({
      kind,
      up: true,
      addresses: ['10.137.0.8/24', 'fd09:24ef:4179::a89:8/128'],
    })
  })

  it('leaves an interface of another kind alone', async () => {
    const namespace = newNamespace()
    execFileSync('ip', ['-n', namespace, 'link', 'add', IFACE, 'type', 'veth', 'peer', 'name', 'peer0'])
    const run = await runInside(namespace, await gateway(QUBESDB))
    expect(run.code).toBe(0)
    expect(run.report).toMatchObject({ found: 'other', result: 'left-alone' })
    expect(interfaceIn(namespace)).toEqual({ kind: 'veth', up: false, addresses: [] })
  })

  it('works without IPv6', async () => {
    const namespace = newNamespace()
    const { '/qubes-netvm-gateway6': _ipv6, ...ipv4Only } = QUBESDB
    expect((await runInside(namespace, await gateway(ipv4Only))).code).toBe(0)
    expect(interfaceIn(namespace)?.addresses).toEqual(['10.137.0.8/32'])
  })

  it.each([
    ['a loopback address', { '/qubes-netvm-gateway': '127.0.0.1' }, /cannot be the internal interface/],
    ['a command-line trick', { '/qubes-netvm-gateway': '10.137.0.8 dev lo' }, /qubes-netvm-gateway/],
    ['a netmask that is no netmask', { '/qubes-netvm-netmask': '255.0.255.0' }, /qubes-netvm-netmask/],
    ['a netmask claiming every address', { '/qubes-netvm-netmask': '0.0.0.0' }, /every address/],
    ['a multicast IPv6 address', { '/qubes-netvm-gateway6': 'ff02::1' }, /cannot be the internal interface/],
    ['an IPv6 address with a newline', { '/qubes-netvm-gateway6': 'fd09::8\nfd09::9' }, /qubes-netvm-gateway6/],
  ])('refuses %s and creates nothing', async (_name, bad, message) => {
    const namespace = newNamespace()
    const run = await runInside(namespace, await gateway({ ...QUBESDB, ...bad }))
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(message)
    expect(interfaceIn(namespace)).toBeNull()
  })

  it('refuses to run without the address, and does nothing in a template or a workstation', async () => {
    const namespace = newNamespace()
    const root = await gateway({})
    await rm(join(root, manifest.paths.simulatedQubesdb, 'qubes-netvm-gateway'))
    const missing = await runInside(namespace, root)
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/no \/qubes-netvm-gateway/)
    for (const profile of ['template-gateway', 'workstation'] as const) {
      const run = await runInside(namespace, await gateway(QUBESDB, profile))
      expect(run.code).toBe(0)
      expect(run.report).toMatchObject({ applicable: false, result: 'skipped' })
    }
    expect(interfaceIn(namespace)).toBeNull()
  })
})
