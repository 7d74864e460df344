import { isIPv4 as nodeIsIPv4, isIPv6 as nodeIsIPv6 } from 'node:net'
import { describe, expect, it } from 'vitest'
import { isIPv4, isIPv6 } from '../../../agent/net/ip'

const IPV4 = [
  '10.152.152.10',
  '0.0.0.0',
  '255.255.255.255',
  '1.2.3.4',
  '01.2.3.4',
  '1.2.3',
  '1.2.3.4.5',
  '256.1.1.1',
  '1.2.3.-4',
  ' 1.2.3.4',
  '1..3.4',
  '',
  '1.2.3.4\n',
  '1.2.3.04',
  'a.b.c.d',
  '1e1.0.0.0',
]
const IPV6 = [
  '::',
  '::1',
  '1::',
  'fd19:c33d:88bc::10',
  'fe80::1',
  '2001:db8::8a2e:370:7334',
  '1:2:3:4:5:6:7:8',
  '1:2:3:4:5:6:7::',
  '::2:3:4:5:6:7:8',
  '1:2:3:4:5:6:7:8:9',
  '1::2::3',
  ':1:2:3:4:5:6:7',
  '1:2:3:4:5:6:7:',
  '12345::',
  'g::1',
  '::ffff:10.152.152.10',
  '::ffff:10.152.152.256',
  '1:2:3:4:5:6:10.1.1.1',
  '1:2:3:4:5:6:7:10.1.1.1',
  '',
  ':',
  ':::',
  '1:2:3:4:5:6:7:8::',
  '::1.2.3.4',
  '10.1.1.1',
  'fd19:c33d:88bc::10 ',
  // An IPv4 tail only at the very end of the address.
  '1.2.3.4::',
  '1.2.3.4::1',
  '1:1.2.3.4::',
  '::1.2.3.4:1',
  '1::1.2.3.4',
  '1:2:3:4:5:1.2.3.4::',
  '::1.2.3.4.5',
]

describe('IP address syntax', () => {
  it.each(IPV4)('IPv4 %j as Node judges it', (text) => expect(isIPv4(text)).toBe(nodeIsIPv4(text)))
  it.each(IPV6)('IPv6 %j as Node judges it', (text) => expect(isIPv6(text)).toBe(nodeIsIPv6(text)))

  it('rejects a zone index, which Node accepts: it has no place in a config file', () => {
    expect(nodeIsIPv6('fe80::1%eth0')).toBe(true)
    expect(isIPv6('fe80::1%eth0')).toBe(false)
  })

  it('agrees with Node over 20,000 random candidates built from address pieces', () => {
    const alphabet = ['0', '1', '10', '255', '256', '01', 'ff', 'abcd', '12345', 'g', ':', '::', '.', '.', ':']
    let seed = 42
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    for (let i = 0; i < 20_000; i++) {
      const length = 1 + Math.floor(random() * 16)
      const text = Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join('')
      expect([text, isIPv4(text), isIPv6(text)]).toEqual([text, nodeIsIPv4(text), nodeIsIPv6(text)])
    }
  })

  it('agrees with Node over 20,000 candidates built from whole groups, IPv4 tails anywhere', () => {
    const groups = ['0', '1', 'ffff', 'abcd', '12345', 'g', '', '1.2.3.4', '10.152.152.10', '256.0.0.1', '1.2.3']
    let seed = 7
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const pick = <T>(from: readonly T[]) => from[Math.floor(random() * from.length)] as T
    for (let i = 0; i < 20_000; i++) {
      const count = 1 + Math.floor(random() * 9)
      let text = pick(groups)
      for (let g = 1; g < count; g++) text += pick([':', ':', ':', '::']) + pick(groups)
      expect([text, isIPv6(text)]).toEqual([text, nodeIsIPv6(text)])
    }
  })
})
