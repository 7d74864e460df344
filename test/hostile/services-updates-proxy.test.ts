import { createServer, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it, onTestFinished } from 'vitest'
import { requirePart } from '../helpers/parts'
import { eventually } from '../agent/stacked-tor/helpers'
import { startStandInTor } from '../agent/tor/helpers'
import { freePort, startTinyproxy } from '../agent/updates-proxy/helpers'
import { hostileCall, hostileGateway, percentile, type HostileCall } from './services-helpers'

// Other qubes calling sys-whonix's qubes.UpdatesProxy as attackers would: holding calls
// open, flooding, and leaving while the proxy does not read what they sent. A well-behaved
// template is served all along, and every slot an attacker leaves is free again.

const tinyproxy = requirePart('tinyproxy')
const PROOF = '<meta name="application-name" content="tor proxy"/>'
const HEAD_DEADLINE_MS = 1500
const STALL_MS = 2000
const CONNECT = 'CONNECT deb.debian.org:443 HTTP/1.1\r\nHost: deb.debian.org:443\r\n\r\n'
const descriptor = (source: string) => `qubes.UpdatesProxy+ ${source}\0`

/** Runs `attack` again and again until `stop.done`, one loop per `count`. */
function loops(count: number, stop: { done: boolean }, attack: () => Promise<unknown>): Promise<unknown> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      while (!stop.done) await attack()
    }),
  )
}

/** Whether a call of `source` is admitted now: a half-closed CONNECT is answered "Tor is not ready", a refused one "busy". */
async function admitted(path: string, source: string): Promise<boolean> {
  const call = await hostileCall(path, `${descriptor(source)}${CONNECT}`)
  call.socket.end()
  return /Not-Ready: Tor is not ready/.test(await call.answer)
}

describe.skipIf(tinyproxy.missing)('hostile qubes against qubes.UpdatesProxy while Tor bootstraps', () => {
  it('serves a template all along while three qubes hold, flood and abandon calls; a caller with no request line is cut at its deadline', async () => {
    const standIn = await startStandInTor(5)
    const proxyPort = await freePort()
    const gw = await hostileGateway(
      {
        'updatesProxy.gateway.proxy.port': proxyPort,
        'tor.control': `127.0.0.1:${standIn.port}`,
        'updatesProxy.gateway.torReadyTimeoutMs': 60_000,
        'updatesProxy.gateway.requestHeadTimeoutMs': HEAD_DEADLINE_MS,
      },
      { inputStallTimeoutMs: STALL_MS },
    )
    await startTinyproxy(tinyproxy.path as string, gw.root, gw.manifest, { port: proxyPort })
    const stop = { done: false }
    onTestFinished(() => void (stop.done = true))

    // hostile-camp: 16 CONNECTs that wait for Tor as long as it lets them (its whole share).
    const campers = await Promise.all(
      Array.from({ length: 16 }, () => hostileCall(gw.socket, `${descriptor('hostile-camp')}${CONNECT}`)),
    )
    // hostile-hold: 40 loops sending only the descriptor, reconnecting at once when cut or refused.
    const held: { waited: number; answer: string }[] = []
    const refusedHold: string[] = []
    const holding = loops(40, stop, async () => {
      const call = await hostileCall(gw.socket, descriptor('hostile-hold'))
      const started = performance.now()
      const answer = await call.answer
      if (/busy for hostile-hold/.test(answer)) refusedHold.push(answer)
      else held.push({ waited: performance.now() - started, answer })
      await sleep(10)
    })
    // hostile-leave: 16 loops sending a CONNECT and 1 MiB, leaving 100 ms later without a word.
    const upload = Buffer.alloc(1024 * 1024, 0x41)
    let abandoned = 0
    const leaving = loops(16, stop, async () => {
      const call = await hostileCall(
        gw.socket,
        Buffer.concat([Buffer.from(`${descriptor('hostile-leave')}${CONNECT}`), upload]),
      )
      await sleep(100)
      call.socket.destroy()
      abandoned++
      await sleep(10)
    })

    await sleep(500)
    const logLinesBefore = gw.daemon.log().split('\n').length
    const latencies: number[] = []
    const templateAnswers: string[] = []
    // At least 40 calls and 4 s: several rounds of the held calls' deadline fall within.
    const attackStarted = performance.now()
    while (latencies.length < 40 || performance.now() - attackStarted < 4000) {
      const started = performance.now()
      const result = await gw.templateCall(
        'whonix-workstation-17',
        `GET / HTTP/1.1\r\nHost: 127.0.0.1:${proxyPort}\r\n\r\n`,
      )
      latencies.push(performance.now() - started)
      templateAnswers.push(result.stdout.toString('utf8'))
    }
    stop.done = true
    await Promise.all([holding, leaving])
    const logLines = gw.daemon.log().split('\n').length - logLinesBefore
    const figures = {
      p50Ms: Math.round(percentile(latencies, 50)),
      p99Ms: Math.round(percentile(latencies, 99)),
      calls: latencies.length,
      heldCut: held.length,
      holdRefused: refusedHold.length,
      abandoned,
      daemonLogLines: logLines,
    }
    console.log(`template latency under attack: ${JSON.stringify(figures)}`)

    // The template: every call answered by tinyproxy itself, none refused as busy.
    for (const answer of templateAnswers) {
      expect(answer).toContain(PROOF)
      expect(answer).not.toContain('busy')
    }
    // hostile-hold got its share and no more, and each call it held was cut at the request-line deadline.
    expect(refusedHold.length).toBeGreaterThan(0)
    expect(refusedHold[0]).toMatch(/busy for hostile-hold: it has 16 calls open already, its share of 64/)
    expect(held.length).toBeGreaterThan(0)
    for (const call of held) {
      expect(call.answer).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n[^]*no request line within 1500 ms/)
      expect(call.waited).toBeGreaterThanOrEqual(HEAD_DEADLINE_MS - 100)
      expect(call.waited).toBeLessThan(HEAD_DEADLINE_MS + 10_000)
    }
    // Hundreds of refusals and cuts, a few lines: one per kind per 10 s (debug lines aside: the daemon runs --verbose here).
    expect(
      gw.daemon
        .log()
        .split('\n')
        .slice(logLinesBefore - 1)
        .filter((line) => !line.startsWith('<7>') && line !== '').length,
    ).toBeLessThanOrEqual(12)
    // hostile-camp still waits for Tor: its calls are whole, only its own share is taken.
    for (const call of campers) expect(call.closedAt()).toBeNull()
    // hostile-leave's slots are free again: its callers have gone (their 1 MiB never read) and it may call 16 times anew.
    await eventually(
      async () =>
        (await Promise.all(Array.from({ length: 16 }, () => admitted(gw.socket, 'hostile-leave')))).every(Boolean)
          ? true
          : undefined,
      STALL_MS + 15_000,
      "hostile-leave's slots to be free",
    )
  }, 60_000)
})

/** A proxy that accepts and never reads nor answers: the template's upload waits in the pipe. */
async function deafProxy(): Promise<{ port: number; accepted: () => number }> {
  let accepted = 0
  const sockets = new Set<Socket>()
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
    accepted++
    sockets.add(socket)
    socket.on('error', () => undefined)
  })
  server.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  onTestFinished(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return { port: (server.address() as { port: number }).port, accepted: () => accepted }
}

describe("a caller's close frees its slot whatever the backpressure", () => {
  it.each([
    ['8 MiB (reading stopped at its bound, the EOF behind it)', 8 * 1024 * 1024],
    ['10 KiB (the EOF seen, the proxy silent after it)', 10 * 1024],
  ])(
    'with the proxy not reading: 16 callers that send %s and leave are freed, and their qube calls 16 times anew',
    async (_what, size) => {
      const standIn = await startStandInTor(100)
      const proxy = await deafProxy()
      const gw = await hostileGateway(
        { 'updatesProxy.gateway.proxy.port': proxy.port, 'tor.control': `127.0.0.1:${standIn.port}` },
        { inputStallTimeoutMs: STALL_MS },
      )
      const request = Buffer.concat([
        Buffer.from(
          `${descriptor('hostile-leave')}POST http://deb.debian.org/upload HTTP/1.1\r\nHost: deb.debian.org\r\n\r\n`,
        ),
        Buffer.alloc(size, 0x42),
      ])
      const first: HostileCall[] = await Promise.all(Array.from({ length: 16 }, () => hostileCall(gw.socket, request)))
      await eventually(() => (proxy.accepted() >= 16 ? true : undefined), 10_000, 'the calls to reach the proxy')
      // The share is full: a 17th call of the same qube is refused.
      expect(await (await hostileCall(gw.socket, request)).answer).toMatch(/busy for hostile-leave/)
      const left = performance.now()
      for (const call of first) call.socket.destroy()
      const second = await eventually(
        async () => {
          const calls = await Promise.all(
            Array.from({ length: 16 }, () =>
              hostileCall(gw.socket, `${descriptor('hostile-leave')}GET http://deb.debian.org/ HTTP/1.1\r\n\r\n`),
            ),
          )
          await sleep(300)
          if (calls.every((call) => call.closedAt() === null)) return calls
          for (const call of calls) call.socket.destroy()
          return undefined
        },
        STALL_MS + 15_000,
        'the 16 slots to be free again',
      )
      const freedMs = Math.round(performance.now() - left)
      console.log(
        `slots of callers that left (${size} bytes unread) free again after ${freedMs} ms (bound: ${STALL_MS} ms without progress)`,
      )
      expect(second).toHaveLength(16)
      await eventually(() => (proxy.accepted() >= 32 ? true : undefined), 10_000, 'the new calls to reach the proxy')
    },
    60_000,
  )
})
