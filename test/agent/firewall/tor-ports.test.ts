import { spawnSync } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { firewallPorts } from '../../../agent/tor-ports/table'
import { torListenerConfig } from '../../../agent/tor-ports/torrc'
import { runAgent } from '../../helpers/cli'
import { requirePart } from '../../helpers/parts'
import { tempRoot } from '../../helpers/sandbox'
import { firewallQube, manifest, planFor } from './qube'

// The gateway's Tor listeners come from the same table as the firewall's openings: the
// generated file is checked by the real tor, and every port the firewall opens or
// redirects to on the internal side must be a listener there.
const tor = requirePart('tor')
const ADDRESSES = { ipv4: '10.137.0.8', ipv6: 'fd09:24ef:4179::a89:8' }
const table = manifest.torPorts
const config = (addresses: { ipv4: string; ipv6: string | null }) => torListenerConfig(table, addresses, 'test')

function listeners(text: string): Map<string, string> {
  const found = new Map<string, string>()
  for (const line of text.split('\n').filter((entry) => entry !== '' && !entry.startsWith('#'))) {
    const [type = '', where = '', ...flags] = line.split(' ')
    found.set(where, [type, ...flags].join(' '))
  }
  return found
}

describe('the gateway Tor listeners generated from the ports table', () => {
  it.skipIf(tor.missing)('is a configuration the real tor accepts (tor --verify-config)', async () => {
    const dir = await tempRoot('qwa-torrc-')
    for (const [name, addresses] of [
      ['both', ADDRESSES],
      ['ipv4-only', { ipv4: ADDRESSES.ipv4, ipv6: null }],
    ] as const) {
      const file = join(dir, `${name}.torrc`)
      await writeFile(file, `DataDirectory ${join(dir, `data-${name}`)}\n${config(addresses)}`)
      const result = spawnSync(tor.path ?? 'tor', ['--verify-config', '-f', file, '--defaults-torrc', '/dev/null'], {
        encoding: 'utf8',
        timeout: 30_000,
      })
      expect(result.stdout).toContain('Configuration was valid')
      expect(result.status).toBe(0)
    }
  })

  it("listens on the internal addresses on every port the gateway's firewall opens or redirects to", async () => {
    const found = listeners(config(ADDRESSES))
    const plan = await planFor('gateway')
    const opened = new Set<number>()
    for (const match of plan.script.matchAll(
      /input iifname vif\* (?:tcp|udp) dport (\d+)(?:-(\d+))? counter accept/g,
    )) {
      const first = Number(match[1])
      for (let port = first; port <= Number(match[2] ?? first); port++) opened.add(port)
    }
    for (const match of plan.script.matchAll(/redirect to :(\d+)/g)) opened.add(Number(match[1]))
    const control = firewallPorts(table).controlFilter
    expect(opened.has(9040) && opened.has(5300) && opened.has(9150) && opened.has(9229)).toBe(true)
    for (const port of opened) {
      if (port === control) continue
      expect(found.has(`${ADDRESSES.ipv4}:${port}`), `port ${port} on ${ADDRESSES.ipv4}`).toBe(true)
      expect(found.has(`[${ADDRESSES.ipv6}]:${port}`), `port ${port} on ${ADDRESSES.ipv6}`).toBe(true)
    }
  })

  it("has Whonix's flags and isolation, loopback listeners, and no IPv6 listener without IPv6", () => {
    const found = listeners(config(ADDRESSES))
    const isolated = [9101, 9102, 9103, 9105, 9106, 9107, 9108, 9109, 9110, 9114, 9115, 9117, 9118]
    for (const port of isolated)
      expect(found.get(`${ADDRESSES.ipv4}:${port}`)).toBe('SocksPort IPv6Traffic IsolateDestAddr IsolateDestPort')
    for (const port of [9050, 9100, 9104, 9111, 9122, 9125])
      expect(found.get(`127.0.0.1:${port}`)).toBe('SocksPort IPv6Traffic')
    expect(found.get(`${ADDRESSES.ipv4}:9150`)).toBe(
      'SocksPort IPv6Traffic PreferIPv6 KeepAliveIsolateSOCKSAuth ExtendedErrors',
    )
    expect(found.get('127.0.0.1:9150')).toBe('SocksPort IPv6Traffic PreferIPv6 KeepAliveIsolateSOCKSAuth')
    expect(found.get(`${ADDRESSES.ipv4}:5300`)).toBe('DNSPort IsolateDestPort')
    expect(found.get(`${ADDRESSES.ipv4}:9040`)).toBe('TransPort')
    expect(found.get('127.0.0.1:9041')).toBe('TransPort')
    expect(found.get('[::1]:5400')).toBe('DNSPort')
    expect(found.get(`${ADDRESSES.ipv4}:9185`)).toBe('SocksPort IPv6Traffic IsolateDestAddr IsolateDestPort')
    expect(found.get(`${ADDRESSES.ipv4}:9205`)).toBe('HTTPTunnelPort IsolateDestAddr')
    // Not on loopback: the custom SOCKS ports and the workstations' TransPort/DnsPort.
    for (const port of [9152, 9189, 9040, 5300]) expect(found.has(`127.0.0.1:${port}`)).toBe(false)
    // The control port filter proxy is not Tor: no listener line for it.
    expect([...found.keys()].some((where) => where.endsWith(':9051'))).toBe(false)
    expect(found.get('unix:/run/tor/socks')).toBe('SocksPort IPv6Traffic WorldWritable')
    expect(config({ ipv4: ADDRESSES.ipv4, ipv6: null })).not.toContain('[')
  })

  it('writes the file for the addresses in qubesdb, atomically, and leaves it alone when unchanged', async () => {
    const root = await firewallQube('gateway', {
      qubesdb: { '/qubes-netvm-gateway': '10.137.0.9', '/qubes-netvm-gateway6': 'fd09:24ef:4179::a89:9' },
    })
    const printed = await runAgent(['--root', root, 'firewall', 'torrc'])
    expect(printed.stderr).toBe('')
    const first = await runAgent(['--root', root, 'firewall', 'torrc', '--write'])
    expect(first.stdout).toContain('written')
    const written = await readFile(join(root, table.torrcFile), 'utf8')
    expect(written.trimEnd()).toBe(printed.stdout.trimEnd())
    expect(written).toContain('SocksPort 10.137.0.9:9050 IPv6Traffic')
    expect(written).toContain('TransPort [fd09:24ef:4179::a89:9]:9040')
    expect((await runAgent(['--root', root, 'firewall', 'torrc', '--write'])).stdout).toContain('unchanged')
    const workstation = await runAgent(['--root', await firewallQube('workstation'), 'firewall', 'torrc'])
    expect(workstation.code).toBe(5)
  })

  it('refuses a table whose SOCKS span has a hole', () => {
    const holed = { ...table, listeners: table.listeners.filter((row) => row.ports !== '9170-9179') }
    expect(() => firewallPorts(holed)).toThrow(/holes/)
  })
})
