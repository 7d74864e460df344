import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canUseNetns, requirePart } from '../../helpers/parts'
import {
  client,
  row,
  setIpv6Flag,
  simulatedQube,
  stackedTor,
  startDaemon,
  type RunningDaemon,
  type SimulatedQube,
} from './daemon'
import { eventually } from './helpers'

// Two network namespaces joined by a veth pair: the "gateway" runs a real tor (DisableNetwork 1,
// SocksPort and ControlPort on the gateway's addresses, cookie authentication), the
// "workstation" runs the built agent daemon with its stacked-Tor forwarders.

const tor = requirePart('tor')
const netns = canUseNetns()
if (!netns) console.warn('skipping: cannot create network namespaces here (needs root)')

const GATEWAY = '10.152.152.10'
const GATEWAY6 = 'fd19:c33d:88bc::10'
const GW = `qwa-g${process.pid}`
const WS = `qwa-w${process.pid}`
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' })

interface ControlAnswer {
  protocolinfo: string[]
  authenticate: string[]
  version: string[]
  commands: string[][]
}

describe.skipIf(!netns || tor.missing)(
  'stacked-Tor forwarders in a workstation namespace, a real tor in the gateway namespace',
  () => {
    let work: string
    let torProcess: ChildProcess
    let echo: ChildProcess
    let qube: SimulatedQube
    let daemon: RunningDaemon
    let cookieFile: string

    beforeAll(async () => {
      ip('netns', 'add', GW)
      ip('netns', 'add', WS)
      ip('link', 'add', `qg${process.pid}`, 'type', 'veth', 'peer', 'name', `qw${process.pid}`)
      ip('link', 'set', `qg${process.pid}`, 'netns', GW)
      ip('link', 'set', `qw${process.pid}`, 'netns', WS)
      ip('-n', GW, 'addr', 'add', `${GATEWAY}/24`, 'dev', `qg${process.pid}`)
      ip('-n', WS, 'addr', 'add', '10.152.152.11/24', 'dev', `qw${process.pid}`)
      ip('-n', GW, 'addr', 'add', `${GATEWAY6}/64`, 'dev', `qg${process.pid}`, 'nodad')
      ip('-n', WS, 'addr', 'add', 'fd19:c33d:88bc::11/64', 'dev', `qw${process.pid}`, 'nodad')
      for (const [space, link] of [
        [GW, `qg${process.pid}`],
        [WS, `qw${process.pid}`],
      ] as const) {
        ip('-n', space, 'link', 'set', 'lo', 'up')
        ip('-n', space, 'link', 'set', link, 'up')
      }

      work = await mkdtemp(join(tmpdir(), 'qwa-gw-'))
      await mkdir(join(work, 'data'), { mode: 0o700 })
      cookieFile = join(work, 'control_auth_cookie')
      const torrc = [
        `DataDirectory ${join(work, 'data')}`,
        'DisableNetwork 1',
        `SocksPort ${GATEWAY}:9050`,
        `SocksPort [${GATEWAY6}]:9050`,
        `ControlPort ${GATEWAY}:9051`,
        `ControlPort [${GATEWAY6}]:9051`,
        'CookieAuthentication 1',
        `CookieAuthFile ${cookieFile}`,
        'AvoidDiskWrites 1',
        'Log notice stdout',
      ]
      await writeFile(join(work, 'torrc'), `${torrc.join('\n')}\n`)
      torProcess = spawn(
        'ip',
        ['netns', 'exec', GW, tor.path ?? 'tor', '-f', join(work, 'torrc'), '--defaults-torrc', '/dev/null'],
        { stdio: 'ignore' },
      )
      // Port 9150 of the gateway: an echo server, for many short connections.
      echo = spawn(
        'ip',
        [
          'netns',
          'exec',
          GW,
          process.execPath,
          '-e',
          `require('net').createServer({allowHalfOpen:true},(s)=>{s.on('error',()=>{});s.pipe(s)}).listen(9150,'${GATEWAY}')`,
        ],
        { stdio: 'ignore' },
      )
      await eventually(
        async () => ((await stat(cookieFile).catch(() => null)) ? true : undefined),
        30_000,
        'tor writes its cookie',
      )

      qube = await simulatedQube('workstation', { 'qubes-gateway': GATEWAY, 'qubes-gateway6': GATEWAY6 })
      await setIpv6Flag(qube.root, '0')
      daemon = await startDaemon(qube.root, { netns: WS })
    }, 90_000)

    afterAll(async () => {
      await daemon?.stop()
      torProcess?.kill('SIGKILL')
      echo?.kill('SIGKILL')
      for (const space of [GW, WS]) execFileSync('ip', ['netns', 'del', space], { stdio: 'ignore' })
      await qube?.remove()
      if (work) await rm(work, { recursive: true, force: true })
    })

    const control = (connect: Record<string, unknown>, then: string[] = []) =>
      client<ControlAnswer>({ op: 'control', connect, cookieFile, then }, connect.path ? undefined : WS)

    function expectTorControl(answer: Awaited<ReturnType<typeof control>>) {
      expect(answer.error).toBeUndefined()
      expect(answer.result?.protocolinfo).toContain('250 OK')
      expect(answer.result?.protocolinfo.join('\n')).toMatch(/AUTH METHODS=COOKIE,SAFECOOKIE/)
      expect(answer.result?.authenticate).toEqual(['250 OK'])
      expect(answer.result?.version[0]).toMatch(/^250-version=0\.\d+\.\d+/)
    }

    it('lists all 16 forwarders listening, to the gateway, IPv6 bracketed', async () => {
      const status = await stackedTor(qube.root)
      expect(status?.listening).toBe(16)
      expect(row(status!, '127.0.0.1:9151')?.target).toBe(`${GATEWAY}:9051`)
      expect(row(status!, '[::1]:9050')?.target).toBe(`[${GATEWAY6}]:9050`)
      expect(row(status!, '/run/tor/control')?.target).toBe(`${GATEWAY}:9051`)
    })

    it("completes PROTOCOLINFO, cookie AUTHENTICATE and GETINFO version with the gateway's tor through 127.0.0.1:9051", async () => {
      expectTorControl(await control({ host: '127.0.0.1', port: 9051 }))
    })

    it('does the same through /run/tor/control and through [::1]:9151 to the IPv6 gateway', async () => {
      expectTorControl(await control({ path: join(qube.root, 'run/tor/control') }))
      expectTorControl(await control({ host: '::1', port: 9151 }))
    })

    it("gets Tor's SOCKS5 answer through /run/tor/socks", async () => {
      const socksPath = join(qube.root, 'run/tor/socks')
      // Tor opens no SocksPort while DisableNetwork is 1; the gateway namespace has no route out anyway.
      const enabled = await control({ path: join(qube.root, 'run/anon-ws-disable-stacked-tor/127.0.0.1_9051.sock') }, [
        'SETCONF DisableNetwork=0',
      ])
      expect(enabled.result?.commands).toEqual([['250 OK']])
      try {
        const answer = await eventually(
          async () => {
            const attempt = await client<{ method: number[]; reply: number[] }>({
              op: 'socks',
              connect: { path: socksPath },
            })
            return attempt.ok ? attempt : undefined
          },
          20_000,
          "tor's SocksPort",
        )
        // Version 5, no authentication; then Tor refuses a CONNECT to an invalid onion name (a SOCKS5 failure code).
        expect(answer.result?.method).toEqual([5, 0])
        expect(answer.result?.reply[0]).toBe(5)
        expect(answer.result?.reply[1]).not.toBe(0)
      } finally {
        await control({ host: '127.0.0.1', port: 9051 }, ['SETCONF DisableNetwork=1'])
      }
    })

    it('resets the client at once when the gateway refuses, and keeps running', async () => {
      // Nothing listens on the gateway's 9102 in this test.
      const answer = await client<{ error: string | null; ms: number }>(
        { op: 'probe', connect: { host: '127.0.0.1', port: 9102 } },
        WS,
      )
      expect(answer.result?.error).toBe('ECONNRESET')
      const status = await stackedTor(qube.root)
      expect(row(status!, '127.0.0.1:9102')?.errors['gateway ECONNREFUSED']).toBeGreaterThanOrEqual(1)
      expect(status?.listening).toBe(16)
      expect(daemon.log()).toMatch(/127\.0\.0\.1:9102: gateway 10\.152\.152\.10:9102: connect ECONNREFUSED/)
    })

    it('fails each connection at once while the link to the gateway is down, and works again when it is up', async () => {
      ip('-n', WS, 'link', 'set', `qw${process.pid}`, 'down')
      try {
        const answer = await client<{ error: string | null; ms: number }>(
          { op: 'probe', connect: { host: '127.0.0.1', port: 9051 } },
          WS,
        )
        expect(answer.result?.error).toBe('ECONNRESET')
        expect((await stackedTor(qube.root))?.listening).toBe(16)
      } finally {
        ip('-n', WS, 'link', 'set', `qw${process.pid}`, 'up')
      }
      await eventually(
        async () => ((await control({ host: '127.0.0.1', port: 9051 })).ok ? true : undefined),
        15_000,
        'the gateway again',
      )
      const status = await stackedTor(qube.root)
      expect(
        Object.keys(row(status!, '127.0.0.1:9051')?.errors ?? {}).some((cause) => cause.startsWith('gateway E')),
      ).toBe(true)
    })

    it('gives sockets mode 0666 and debian-tor, directories 2755, cookie copies 0640', async () => {
      for (const path of ['run/tor/socks', 'run/tor/control', 'run/anon-ws-disable-stacked-tor/127.0.0.1_9150.sock'])
        expect((await stat(join(qube.root, path))).mode & 0o7777).toBe(0o666)
      for (const path of ['run/tor', 'run/anon-ws-disable-stacked-tor'])
        expect((await stat(join(qube.root, path))).mode & 0o7777).toBe(0o2755)
      const cookie = await readFile(join(qube.root, 'run/tor/control.authcookie'))
      expect(cookie).toHaveLength(32)
      expect((await stat(join(qube.root, 'run/tor/control.authcookie'))).mode & 0o777).toBe(0o640)
      const owner = execFileSync('getent', ['group', 'debian-tor'], { encoding: 'utf8' }).split(':')[2]
      expect(String((await stat(join(qube.root, 'run/tor/socks'))).gid)).toBe(owner)
    })

    it('gives back file descriptors and memory after 10,000 connections', async () => {
      const fds = async () =>
        (await import('node:fs/promises')).readdir(`/proc/${daemon.pid}/fd`).then((entries) => entries.length)
      const rss = async () =>
        Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${daemon.pid}/status`, 'utf8'))?.[1]) * 1024
      const many = (count: number) =>
        client<{ finished: number; failed: number }>(
          { op: 'many', connect: { host: '127.0.0.1', port: 9150 }, count, concurrency: 16 },
          WS,
        )
      // A first round lets the heap reach its working size; what matters is what the next 10,000 leave.
      expect((await many(5000)).result).toEqual({ finished: 5000, failed: 0 })
      const before = { fds: await fds(), rss: await rss() }
      expect((await many(10_000)).result).toEqual({ finished: 10_000, failed: 0 })
      await eventually(async () => ((await fds()) === before.fds ? true : undefined), 10_000, 'file descriptors back')
      const after = await rss()
      console.log(
        `daemon RSS ${(before.rss / 2 ** 20).toFixed(1)} MiB before 10,000 connections, ${(after / 2 ** 20).toFixed(1)} MiB after; ${before.fds} fds`,
      )
      // The garbage collector's timing moves RSS by several MiB either way: this bound catches a gross
      // leak; forwarders.test.ts measures the heap itself after a forced collection.
      expect(after - before.rss).toBeLessThan(16 * 2 ** 20)
      const status = await stackedTor(qube.root)
      expect(row(status!, '127.0.0.1:9150')?.connections).toMatchObject({ active: 0, total: 15_000 })
    }, 180_000)
  },
)
