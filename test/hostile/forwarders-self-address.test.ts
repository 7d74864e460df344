import { writeFile } from 'node:fs/promises'
import { networkInterfaces } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { ownAddresses } from '../../agent/stacked-tor/inputs'
import { gatewayFrom } from '../../agent/stacked-tor/plan'
import { addressBytes, isSelfAddress } from '../../agent/net/ip'
import { checkQubesdbValue } from '../../agent/qubesdb/values'
import { tempRoot } from '../helpers/sandbox'
import { setIpv6Flag, simulatedQube, stackedTor, startDaemon } from '../agent/stacked-tor/daemon'
import { freePorts, manifestText, talk } from '../agent/stacked-tor/helpers'

// A workstation's forwarders must never take this qube for its gateway: one connection to a
// forwarder that forwards to itself becomes as many self-connections as it has descriptors.

const LOOPBACK_FORMS = [
  '::1',
  '0::1',
  '0:0:0:0:0:0:0:1',
  '0000:0000:0000:0000:0000:0000:0000:0001',
  '::0001',
  '0:0::1',
  '::ffff:7f00:1',
  '::ffff:127.0.0.1',
  '::FFFF:7F00:0001',
  '::ffff:127.1.2.3',
  '::127.0.0.1',
  '::7f00:1',
]
const UNSPECIFIED_FORMS = [
  '::',
  '0::0',
  '0:0:0:0:0:0:0:0',
  '0000:0000:0000:0000:0000:0000:0000:0000',
  '::ffff:0.0.0.0',
  '::ffff:0:0',
  '::0.0.0.0',
]
const IPV4_SELF = ['127.0.0.1', '127.255.255.254', '0.0.0.0', '0.1.2.3']
const OTHERS = [
  '10.137.0.8',
  '10.152.152.10',
  'fd09:24ef:4179::a89:8',
  '::ffff:10.152.152.10',
  '2001:db8::1',
  '128.0.0.1',
]

const present = (key: string, value: string) => gatewayFrom(key, { state: 'present', value })

describe('"never forward to ourselves" compares parsed addresses', () => {
  it.each([...LOOPBACK_FORMS, ...UNSPECIFIED_FORMS])(
    'refuses the IPv6 spelling %j of a loopback or unspecified address as /qubes-gateway6',
    (form) => {
      // Each form is a valid IPv6 address to qubesdb's check: only the parsed comparison stops it.
      expect(checkQubesdbValue('/qubes-gateway6', form, 64)).toEqual({ ok: true, value: form })
      expect(present('/qubes-gateway6', form)).toEqual({
        error: `qubesdb /qubes-gateway6 is ${form}, an address of this qube itself`,
      })
    },
  )

  it.each(IPV4_SELF)('refuses the IPv4 loopback or unspecified %j as /qubes-gateway', (form) => {
    expect(present('/qubes-gateway', form)).toMatchObject({
      error: expect.stringMatching(/an address of this qube itself$/),
    })
  })

  it.each(OTHERS)('takes the address of another machine, %j', (address) => {
    expect(present('/qubes-gateway', address)).toEqual({ address })
  })

  it("refuses the qube's own addresses (qubesdb's and its interfaces'), in any spelling of them", () => {
    const own = ownAddresses(
      [
        { state: 'present', value: '10.137.0.20' },
        { state: 'present', value: 'fd09:24ef:4179::a89:14' },
      ],
      {},
    )
    for (const form of [
      '10.137.0.20',
      '::ffff:10.137.0.20',
      '::ffff:a89:14',
      'fd09:24ef:4179:0:0:0:a89:14',
      'FD09:24EF:4179:0000:0000:0000:0A89:0014',
    ])
      expect([form, gatewayFrom('/qubes-gateway6', { state: 'present', value: form }, own)]).toEqual([
        form,
        { error: `qubesdb /qubes-gateway6 is ${form}, an address of this qube itself` },
      ])
    expect(gatewayFrom('/qubes-gateway', { state: 'present', value: '10.137.0.21' }, own)).toEqual({
      address: '10.137.0.21',
    })
    const nonLoopback = Object.values(networkInterfaces())
      .flatMap((list) => list ?? [])
      .find((entry) => !entry.internal)
    if (nonLoopback) expect(isSelfAddress(nonLoopback.address.replace(/%.*$/, ''), ownAddresses([]))).toBe(true)
  })

  it('fails closed on text that is no address, and parses every form to the same 16 bytes', () => {
    for (const text of ['', 'localhost', '127.000.000.001', '0x7f.1', '2130706433', '::1%lo', '1::2::3'])
      expect(isSelfAddress(text)).toBe(true)
    const loopback = Array.from(addressBytes('::1') ?? [])
    for (const form of LOOPBACK_FORMS.slice(0, 6)) expect(Array.from(addressBytes(form) ?? [])).toEqual(loopback)
    expect(Array.from(addressBytes('::ffff:7f00:1') ?? [])).toEqual(Array.from(addressBytes('127.0.0.1') ?? []))
  })
})

describe('the real daemon with such a gateway in qubesdb', () => {
  it.each(['0:0:0:0:0:0:0:1', '::ffff:7f00:1'])(
    'does not listen on [::1] when /qubes-gateway6 is %j, and a client is refused rather than looped',
    async (form) => {
      const ports = await freePorts(5)
      const dir = await tempRoot()
      const config = join(dir, 'qubes.yaml')
      await writeFile(
        config,
        await manifestText(
          (raw) =>
            (raw.stackedTor.tcp = raw.stackedTor.tcp.map((entry, index) => ({
              port: ports[index] ?? 0,
              to: entry.to,
            }))),
        ),
      )
      const qube = await simulatedQube(
        'workstation',
        { 'qubes-gateway': '10.152.152.10', 'qubes-gateway6': form },
        config,
      )
      onTestFinished(() => qube.remove())
      await setIpv6Flag(qube.root, '0')
      const daemon = await startDaemon(qube.root, { config })
      onTestFinished(() => daemon.stop())
      const status = await stackedTor(qube.root, config)
      const v6 = status?.forwarders.filter((entry) => entry.listen.startsWith('[::1]')) ?? []
      expect(v6.length).toBe(ports.length)
      for (const entry of v6) {
        expect(entry.target).toBeNull()
        expect(entry.reason).toBe(
          `qubesdb /qubes-gateway6 is ${form}, an address of this qube itself: not listening (fail closed)`,
        )
      }
      const answer = await talk({ host: '::1', port: ports[0] ?? 0 }, (socket) => socket.end('GET / HTTP/1.0\r\n\r\n'))
      expect(['ECONNREFUSED', 'EADDRNOTAVAIL']).toContain(answer.error?.code)
    },
    60_000,
  )
})
