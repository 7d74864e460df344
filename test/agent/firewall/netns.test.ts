import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AGENT } from '../../helpers/cli'
import { canUseNetns, requirePart } from '../../helpers/parts'
import { firewallQube, manifest, UIDS } from './qube'
import { CLEAR, GW, clearCounts, clearServer, createTopology, ping, probe, ruleCount, type Topology } from './topology'

// The real nft loads the agent's rulesets in namespaces wired like Qubes-Whonix (topology.ts);
// the real tor listens on the gateway with the listener file the agent generates. Every
// assertion reads packet counters: nft's own, and those of the clear side.
const nft = requirePart('nft', 'nftables')
const tor = requirePart('tor')
requirePart('ping', 'iputils-ping')
const netns = canUseNetns()
if (!netns && process.env.CI === 'true')
  throw new Error('network namespaces are required in CI (run the tests as root)')

const QUBESDB = {
  '/qubes-netvm-gateway': GW.v4,
  '/qubes-netvm-netmask': '255.255.255.255',
  '/qubes-netvm-gateway6': GW.v6,
}

function agent(
  ns: string,
  root: string,
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, AGENT, '--root', root, ...args], {
      env: { ...process.env, PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const start = performance.now()
  while (!(await check())) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

describe.skipIf(!netns || nft.missing || tor.missing)(
  'the Whonix firewall with real nft and real tor, in namespaces wired like Qubes',
  () => {
    let topology: Topology
    let root: string
    let work: string
    let torProcess: ChildProcess
    let server: ChildProcess

    const startTor = () =>
      spawn(
        'ip',
        ['netns', 'exec', topology.gw, tor.path ?? 'tor', '-f', join(work, 'torrc'), '--defaults-torrc', '/dev/null'],
        { stdio: ['ignore', 'ignore', process.env.QWA_DEBUG ? 'inherit' : 'ignore'] },
      )

    beforeAll(async () => {
      topology = createTopology()
      work = await mkdtemp(join(tmpdir(), 'qwa-fw-tor-'))
      root = await firewallQube('gateway', { qubesdb: QUBESDB }, await mkdtemp(join(work, 'root-')))
      const listeners = await agent(topology.gw, root, 'firewall', 'torrc')
      expect(listeners.stderr).toBe('')
      // The unix SOCKS socket's path is outside the sandbox: every TCP listener is kept. Tor
      // opens no listener with DisableNetwork 1; its own attempts to connect end in the clear
      // namespace, which routes nowhere (and, once the firewall is loaded, are refused: it runs as root).
      const torrc = [
        `DataDirectory ${join(work, 'data')}`,
        'Log notice stderr',
        ...listeners.stdout.split('\n').filter((line) => !line.startsWith('SocksPort unix:')),
      ]
      await writeFile(join(work, 'torrc'), `${torrc.join('\n')}\n`)
      torProcess = startTor()
      server = clearServer(topology)
      // Readiness on a SOCKS port: a connection to the TransPort that no NAT rule redirected
      // makes this tor (0.4.9.11) crash once it fails to fetch the original destination.
      await until('tor listens', async () => (await probe(topology.gw, 'tcp', GW.v4, 9050)) === 'connected')
      const applied = await agent(topology.gw, root, 'firewall', 'apply')
      expect(applied.stderr).toBe('')
      expect(applied.code).toBe(0)
    }, 60_000)

    /** This tor crashes after refusing some redirected connections: start it again when needed. */
    async function torRunning(): Promise<void> {
      if (torProcess.exitCode === null && torProcess.signalCode === null) return
      torProcess = startTor()
      await until('tor listens again', async () => (await probe(topology.gw, 'tcp', GW.v4, 9050)) === 'connected')
    }

    afterAll(async () => {
      torProcess?.kill('SIGKILL')
      server?.kill('SIGKILL')
      topology?.remove()
      if (work) await rm(work, { recursive: true, force: true })
    })

    it("sends a workstation's TCP to any address to the TransPort and its DNS to the DnsPort; nothing reaches the clear side", async () => {
      await torRunning()
      const before = clearCounts(topology)
      const redirected = ruleCount(topology.gw, 'redirect to :9040')
      const dns = ruleCount(topology.gw, 'redirect to :5300')
      // Tor accepts the connection itself (its TransPort), whatever the address asked for.
      expect(await probe(topology.ws, 'tcp', CLEAR.v4, 80)).toBe('connected')
      expect(await probe(topology.ws, 'tcp', '198.51.100.7', 443)).toBe('connected')
      expect(await probe(topology.ws, 'tcp', CLEAR.v6, 80)).toBe('connected')
      await probe(topology.ws, 'udp', CLEAR.v4, 53)
      expect(ruleCount(topology.gw, 'redirect to :9040')).toBeGreaterThanOrEqual(redirected + 3)
      expect(ruleCount(topology.gw, 'redirect to :5300')).toBeGreaterThanOrEqual(dns + 1)
      expect(clearCounts(topology)).toEqual(before)
    })

    it('lets UDP, ICMP, IPv6 and spoofed packets from a workstation go nowhere', async () => {
      const before = clearCounts(topology)
      expect(await probe(topology.ws, 'udp', CLEAR.v4, 9999)).not.toBe('reply')
      expect(await probe(topology.ws, 'udp', CLEAR.v6, 9999)).not.toBe('reply')
      expect(ping(topology.ws, CLEAR.v4)).toBe(false)
      expect(ping(topology.ws, CLEAR.v6)).toBe(false)
      // A source address the gateway does not route back to the workstation: dropped, unanswered.
      const dropped = ruleCount(topology.gw, 'fib saddr . iif oif missing')
      const spoofNs = topology.ws
      execFileSync('ip', ['-n', spoofNs, 'addr', 'add', '10.99.0.5/32', 'dev', 'eth0'])
      expect(await probe(topology.ws, 'tcp', CLEAR.v4, 80, { source: '10.99.0.5' })).not.toBe('connected')
      execFileSync('ip', ['-n', spoofNs, 'addr', 'del', '10.99.0.5/32', 'dev', 'eth0'])
      expect(ruleCount(topology.gw, 'fib saddr . iif oif missing')).toBeGreaterThan(dropped)
      expect(clearCounts(topology)).toEqual(before)
    })

    it("lets only Tor's user and the NO_NAT users reach the clear side from the gateway", async () => {
      const reached = async (uid: number) => {
        const before = clearCounts(topology).v4
        const result = await probe(topology.gw, 'tcp', CLEAR.v4, 80, { uid })
        return { result, packets: clearCounts(topology).v4 - before }
      }
      expect(await reached(UIDS['debian-tor'])).toMatchObject({ result: 'connected' })
      expect(await reached(UIDS.clearnet)).toMatchObject({ result: 'connected' })
      expect(await reached(UIDS.tunnel)).toMatchObject({ result: 'connected' })
      for (const uid of [UIDS.user, UIDS.sdwdate, UIDS.systemcheck, UIDS.updatesproxycheck, 65534])
        expect(await reached(uid)).toEqual({ result: expect.not.stringMatching(/^connected$/), packets: 0 })
      expect(await reached(0)).toEqual({ result: expect.not.stringMatching(/^connected$/), packets: 0 })
    })

    it("sends vm-updates' new flows into Tor's gateway TransPort; updatesproxycheck gets nowhere", async () => {
      await torRunning()
      const before = clearCounts(topology)
      const dnat = ruleCount(topology.gw, `skuid ${UIDS['vm-updates']} ct state new counter`)
      expect(await probe(topology.gw, 'tcp', CLEAR.v4, 80, { uid: UIDS['vm-updates'] })).toBe('connected')
      expect(ruleCount(topology.gw, `skuid ${UIDS['vm-updates']} ct state new counter`)).toBeGreaterThan(dnat)
      expect(await probe(topology.gw, 'tcp', CLEAR.v4, 80, { uid: UIDS.updatesproxycheck })).not.toBe('connected')
      expect(clearCounts(topology)).toEqual(before)
    })

    it('opens no window while the ruleset is reloaded', async () => {
      const before = clearCounts(topology)
      // The workstation sends UDP and pings all along while apply runs again and again; both
      // stop only once the last apply is done.
      const flood = spawn(
        'ip',
        [
          'netns',
          'exec',
          topology.ws,
          process.execPath,
          '-e',
          `const s=require('dgram').createSocket('udp4');let n=0;setInterval(()=>{s.send('x',9999,'${CLEAR.v4}');n++},1);process.stdin.resume().on('end',()=>{process.stdout.write(String(n));process.exit(0)})`,
        ],
        { stdio: ['pipe', 'pipe', 'ignore'] },
      )
      let sent = ''
      flood.stdout?.setEncoding('utf8').on('data', (chunk: string) => (sent += chunk))
      const pinger = spawn('ip', ['netns', 'exec', topology.ws, 'ping', '-i', '0.01', '-w', '60', CLEAR.v4], {
        stdio: 'ignore',
      })
      const finished = Promise.all([flood, pinger].map((child) => new Promise((resolve) => child.on('close', resolve))))
      await new Promise((resolve) => setTimeout(resolve, 500))
      for (let round = 0; round < 5; round++) expect((await agent(topology.gw, root, 'firewall', 'apply')).code).toBe(0)
      await new Promise((resolve) => setTimeout(resolve, 200))
      flood.stdin?.end()
      pinger.kill('SIGINT')
      await finished
      expect(Number(sent)).toBeGreaterThan(100)
      expect(clearCounts(topology)).toEqual(before)
    }, 30_000)

    it('says the loaded ruleset is what the configuration gives, and notices a change', async () => {
      expect((await agent(topology.gw, root, 'firewall', 'check')).code).toBe(0)
      execFileSync('ip', [
        'netns',
        'exec',
        topology.gw,
        'nft',
        'add',
        'rule',
        'inet',
        'filter',
        'output',
        'counter',
        'accept',
      ])
      const check = await agent(topology.gw, root, 'firewall', 'check')
      expect(check.code).toBe(1)
      expect(check.stdout).toContain('loaded, not generated: counter accept')
      const status = JSON.parse((await agent(topology.gw, root, '--json', 'status')).stdout) as {
        firewall: { drift: string; loaded: string }
      }
      expect(status.firewall).toMatchObject({ loaded: 'ruleset', drift: 'changed' })
      expect((await agent(topology.gw, root, 'firewall', 'apply')).code).toBe(0)
      expect((await agent(topology.gw, root, 'firewall', 'check')).code).toBe(0)
    })

    it('fails closed: a broken drop-in loads the lockdown ruleset, writes the failure status, and nothing leaks', async () => {
      const broken = await firewallQube('gateway', { qubesdb: QUBESDB, dropIns: { '50_user.conf': 'if then fi\n' } })
      const applied = await agent(topology.gw, broken, 'firewall', 'apply', '--fail-closed')
      expect(applied.code).toBe(3)
      expect(applied.stderr).toContain('syntax error')
      for (const path of manifest.firewall.status.failed) await access(join(broken, path))
      const status = JSON.parse((await agent(topology.gw, broken, '--json', 'status')).stdout) as {
        firewall: { loaded: string; failed: boolean }
      }
      expect(status.firewall).toMatchObject({ loaded: 'lockdown', failed: true })
      const before = clearCounts(topology)
      expect(await probe(topology.ws, 'tcp', CLEAR.v4, 80)).not.toBe('connected')
      expect(await probe(topology.ws, 'udp', CLEAR.v4, 53)).not.toBe('reply')
      expect(ping(topology.ws, CLEAR.v4)).toBe(false)
      expect(await probe(topology.gw, 'tcp', CLEAR.v4, 80, { uid: 65534 })).not.toBe('connected')
      expect(await probe(topology.gw, 'tcp', CLEAR.v4, 80, { uid: 0 })).not.toBe('connected')
      expect(clearCounts(topology)).toEqual(before)
      // What Tor needs still works: its user reaches the network.
      expect(await probe(topology.gw, 'tcp', CLEAR.v4, 80, { uid: UIDS['debian-tor'] })).toBe('connected')
      expect(JSON.parse(await readFile(join(broken, manifest.firewall.status.record), 'utf8'))).toMatchObject({
        loaded: 'lockdown',
      })
      expect((await agent(topology.gw, root, 'firewall', 'apply')).code).toBe(0)
    })

    describe('on the workstation', () => {
      const WS_QUBESDB = {
        '/qubes-gateway': GW.v4,
        '/qubes-gateway6': GW.v6,
        '/qubes-primary-dns': '10.139.1.1',
        '/qubes-secondary-dns': '10.139.1.2',
      }
      afterAll(() => execFileSync('ip', ['netns', 'exec', topology.ws, 'nft', 'flush', 'ruleset']))

      it('rejects non-TCP at once but lets TCP and DNS go to the gateway', async () => {
        await torRunning()
        const wsRoot = await firewallQube('workstation', { qubesdb: WS_QUBESDB }, await mkdtemp(join(work, 'ws-')))
        expect((await agent(topology.ws, wsRoot, 'firewall', 'apply')).code).toBe(0)
        const rejected = ruleCount(topology.ws, 'ip protocol != tcp counter')
        expect(ping(topology.ws, CLEAR.v4)).toBe(false)
        expect(await probe(topology.ws, 'udp', CLEAR.v4, 9999)).not.toBe('reply')
        expect(ruleCount(topology.ws, 'ip protocol != tcp counter')).toBeGreaterThan(rejected)
        expect(await probe(topology.ws, 'tcp', CLEAR.v4, 80)).toBe('connected')
        const dns = ruleCount(topology.gw, 'redirect to :5300')
        await probe(topology.ws, 'udp', GW.v4, 53)
        expect(ruleCount(topology.gw, 'redirect to :5300')).toBeGreaterThan(dns)
      })

      it('lets nothing leave when it fails closed', async () => {
        await torRunning()
        const broken = await firewallQube(
          'workstation',
          { qubesdb: WS_QUBESDB, dropIns: { '50_user.conf': 'firewall_mode=open\n' } },
          await mkdtemp(join(work, 'ws-')),
        )
        const applied = await agent(topology.ws, broken, 'firewall', 'apply', '--fail-closed')
        expect(applied.code).toBe(3)
        const reached = () => ruleCount(topology.gw, 'redirect to :9040') + ruleCount(topology.gw, 'redirect to :5300')
        const before = reached()
        expect(await probe(topology.ws, 'tcp', CLEAR.v4, 80)).not.toBe('connected')
        await probe(topology.ws, 'udp', GW.v4, 53)
        expect(ping(topology.ws, GW.v4)).toBe(false)
        // Nothing even reached the gateway.
        expect(reached()).toBe(before)
      })
    })
  },
)
