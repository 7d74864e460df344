import { describe, expect, it } from 'vitest'
import { checkInterfaceAddresses, netmaskPrefix } from '../../../agent/gateway-interface/addresses'
import { commandsFor, parseInterfaceState } from '../../../agent/gateway-interface/commands'

const tool = { program: '/sbin/ip', timeoutMs: 5000, kind: 'dummy' }
const wanted = checkInterfaceAddresses({
  ipv4: '10.137.0.8',
  netmask: '255.255.255.255',
  ipv6: 'FD09:24EF:4179:0:0:0:A89:8',
})

describe('the addresses of the internal interface', () => {
  it('turns a netmask into a prefix length and refuses one that is not a netmask or claims everything', () => {
    expect(netmaskPrefix('255.255.255.255')).toBe(32)
    expect(netmaskPrefix('255.255.255.0')).toBe(24)
    expect(netmaskPrefix('255.128.0.0')).toBe(9)
    for (const bad of ['255.0.255.0', '0.0.0.0', '255.255.255.256', '24', '255.255.255.0 dev lo'])
      expect(() => netmaskPrefix(bad), bad).toThrow(/netmask/)
  })

  it('keeps canonical addresses (IPv6 as ip prints it) and refuses those no interface should carry', () => {
    expect(wanted).toEqual({
      ipv4: { address: '10.137.0.8', prefix: 32 },
      ipv6: { address: 'fd09:24ef:4179::a89:8', prefix: 128 },
    })
    for (const bad of ['127.0.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '10.0.0.1/8', '-h', '10.137.0.08'])
      expect(() => checkInterfaceAddresses({ ipv4: bad, netmask: '255.255.255.255', ipv6: null }), bad).toThrow(
        expect.objectContaining({ code: 'BAD_ADDRESS' }),
      )
    for (const bad of ['::1', '::', 'ff02::1', '::ffff:10.0.0.1', 'fe80::1%eth0', 'fd00::1/64'])
      expect(() => checkInterfaceAddresses({ ipv4: '10.137.0.8', netmask: '255.255.255.255', ipv6: bad }), bad).toThrow(
        expect.objectContaining({ code: 'BAD_ADDRESS' }),
      )
  })
})

describe('the ip commands, as data', () => {
  const argv = (state: Parameters<typeof commandsFor>[2]) =>
    commandsFor(tool, 'eth1', state, wanted).map((command) => command.argv.join(' '))

  it('create, address and raise a missing interface', () => {
    expect(argv(null)).toEqual([
      '/sbin/ip link add eth1 type dummy',
      '/sbin/ip -4 address add 10.137.0.8/32 dev eth1',
      '/sbin/ip -6 address add fd09:24ef:4179::a89:8/128 dev eth1',
      '/sbin/ip link set dev eth1 up',
    ])
  })

  it('only complete an existing one, and do nothing when it is complete', () => {
    expect(argv({ kind: 'dummy', up: false, addresses: ['10.137.0.8/32'] })).toEqual([
      '/sbin/ip -6 address add fd09:24ef:4179::a89:8/128 dev eth1',
      '/sbin/ip link set dev eth1 up',
    ])
    expect(
      argv({ kind: 'dummy', up: true, addresses: ['10.137.0.8/32', 'fd09:24ef:4179::a89:8/128', 'fe80::1/64'] }),
    ).toEqual([])
  })

  it('read what ip -json says, and refuse output about another interface', () => {
    const output = JSON.stringify([
      {
        ifname: 'eth1',
        flags: ['BROADCAST', 'NOARP', 'UP', 'LOWER_UP'],
        linkinfo: { info_kind: 'dummy' },
        addr_info: [{ family: 'inet', local: '10.137.0.8', prefixlen: 32 }],
      },
    ])
    expect(parseInterfaceState(output, 'eth1')).toEqual({ kind: 'dummy', up: true, addresses: ['10.137.0.8/32'] })
    expect(() => parseInterfaceState(output, 'eth2')).toThrow(/did not describe eth2/)
    expect(() => parseInterfaceState('not json', 'eth1')).toThrow(/no JSON/)
  })
})
