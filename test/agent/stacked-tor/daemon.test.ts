import { existsSync } from 'node:fs'
import { lstat, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, onTestFinished } from 'vitest'
import { runAgent } from '../../helpers/cli'
import { tempRoot } from '../../helpers/sandbox'
import { row, simulatedQube, stackedTor, startDaemon } from './daemon'
import { eventually, freePorts, manifestText, serve, talk } from './helpers'

// The built daemon on this machine's loopback, with a test manifest of free ports (9050 and
// friends may be taken here) and a simulated qube under a temporary root.

async function testManifest(
  ports: readonly number[],
  edit: (raw: Parameters<Parameters<typeof manifestText>[0]>[0]) => void = () => undefined,
): Promise<string> {
  const dir = await tempRoot()
  const file = join(dir, 'qubes.yaml')
  const text = await manifestText((raw) => {
    raw.stackedTor.tcp = raw.stackedTor.tcp.map((entry, index) => ({ port: ports[index] ?? 0, to: entry.to }))
    // A template's updates gate listens where the check asks: on a port of its own, not the host's 8082.
    raw.updatesProxy.check.url = 'http://127.0.0.1:0/'
    edit(raw)
  })
  await writeFile(file, text)
  return file
}

// Debian bookworm's nodejs (see node18.test.ts): the accepted-handle path must work there too.
const NODE18 = fileURLToPath(new URL('../../../.cache/node18/bin/node', import.meta.url))

async function running(profile: string, keys: Record<string, string | null>, config: string, node?: string) {
  const qube = await simulatedQube(profile, keys, config)
  onTestFinished(() => qube.remove())
  const daemon = await startDaemon(qube.root, { config, ...(node ? { node } : {}) })
  onTestFinished(() => daemon.stop())
  return { qube, daemon }
}

describe('the stacked-Tor part of the daemon', () => {
  it('listens nowhere when qubesdb has no /qubes-gateway, says why, and listens after a reload once it has one', async () => {
    const ports = await freePorts(5)
    const config = await testManifest(ports)
    const { qube, daemon } = await running('workstation', { 'qubes-gateway': null }, config)
    const status = await stackedTor(qube.root, config)
    expect(status).toMatchObject({
      mode: 'workstation',
      listening: 0,
      total: 16,
      reason: 'qubesdb has no /qubes-gateway: nothing listens (fail closed)',
    })
    for (const forwarder of status!.forwarders) {
      expect(forwarder.state).toBe('not-listening')
      expect(forwarder.target).toBeNull()
    }
    for (const port of ports) expect((await talk({ port }, () => undefined)).error?.code).toBe('ECONNREFUSED')
    expect(await readdir(join(qube.root, 'run/tor'))).not.toContain('socks')

    const human = await runAgent(['--root', qube.root, '--config', config, 'status'])
    expect(human.stdout).toMatch(
      /Stacked-Tor forwarders: +0 of 16 listening \(workstation\); qubesdb has no \/qubes-gateway: nothing listens \(fail closed\)/,
    )

    await writeFile(join(qube.qubesdb, 'qubes-gateway'), '10.152.152.10')
    process.kill(daemon.pid, 'SIGHUP')
    const reloaded = await eventually(
      async () => {
        const now = await stackedTor(qube.root, config)
        return now?.listening === 11 ? now : undefined
      },
      20_000,
      'listening after the reload',
    )
    expect(row(reloaded, `127.0.0.1:${ports[4]}`)?.target).toBe('10.152.152.10:9051')
    expect(row(reloaded, `[::1]:${ports[0]}`)?.reason).toMatch(/^IPv6 is not available/)
    expect((await lstat(join(qube.root, 'run/tor/socks'))).isSocket()).toBe(true)
  }, 90_000)

  it('never uses a /qubes-gateway that points back at this qube', async () => {
    const config = await testManifest(await freePorts(5))
    const { qube } = await running('workstation', { 'qubes-gateway': '127.0.0.1' }, config)
    const status = await stackedTor(qube.root, config)
    expect(status?.listening).toBe(0)
    expect(status?.reason).toBe(
      'qubesdb /qubes-gateway is 127.0.0.1, an address of this qube itself: nothing listens (fail closed)',
    )
  }, 60_000)

  it.each([
    ['the current Node', undefined, {}, 'handles'],
    ['Node 18.19', existsSync(NODE18) ? NODE18 : null, {}, 'handles'],
    // process.binding would print a deprecation warning there: Sockets instead, and no warning.
    ['NODE_OPTIONS=--pending-deprecation', undefined, { NODE_OPTIONS: '--pending-deprecation' }, 'sockets'],
  ] as const)(
    "forwards a workstation template's port to the manifest's gateway address, and nothing else (%s)",
    async (_name, node, env, engine) => {
      if (node === null) return console.warn('skipping: Node 18 not fetched (run scripts/fetch-node18.sh)')
      const target = await serve((socket) => socket.end('from the gateway'))
      const [port] = await freePorts(1)
      const config = await testManifest(await freePorts(5), (raw) => {
        raw.whonix.addresses.gateway = '127.0.0.1'
        raw.stackedTor.template.tcp = [{ port: port!, to: target.port }]
      })
      const qube = await simulatedQube('template-workstation', {}, config)
      onTestFinished(() => qube.remove())
      const daemon = await startDaemon(qube.root, {
        config,
        env: { ...process.env, ...env },
        ...(node ? { node } : {}),
      })
      onTestFinished(() => daemon.stop())
      const status = await stackedTor(qube.root, config)
      expect(status).toMatchObject({ mode: 'template', engine, listening: 1, total: 1 })
      expect(status?.forwarders[0]).toMatchObject({
        listen: `127.0.0.1:${port}`,
        target: `127.0.0.1:${target.port}`,
        state: 'listening',
      })
      expect((await talk({ port: port! }, () => undefined)).data.toString()).toBe('from the gateway')
      await expect(lstat(join(qube.root, 'run/tor/socks'))).rejects.toMatchObject({ code: 'ENOENT' })
      expect(daemon.log()).not.toContain('DeprecationWarning')
    },
    60_000,
  )

  it('does not run in a gateway, and status says so', async () => {
    const config = await testManifest(await freePorts(5))
    const qube = await simulatedQube('gateway', {}, config)
    onTestFinished(() => qube.remove())
    const daemon = await startDaemon(qube.root, { config, waitFor: 'daemon' })
    onTestFinished(() => daemon.stop())
    const json = JSON.parse((await runAgent(['--root', qube.root, '--config', config, '--json', 'status'])).stdout)
    expect(json.daemon).toMatchObject({ running: true })
    expect(json.daemon.parts['stacked-tor']).toBeUndefined()
    // The row belongs to workstations: a gateway's status does not show it at all.
    const human = await runAgent(['--root', qube.root, '--config', config, 'status'])
    expect(human.stdout).toMatch(/Agent daemon: +running/)
    expect(human.stdout).not.toMatch(/Stacked-Tor/)
  }, 60_000)
})
