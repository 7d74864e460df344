import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { changesFor, replaceAddresses, type AddressChange } from '../../../agent/replace-ips/rule'
import { requirePart } from '../../helpers/parts'

const gatewayChanges = (current: string, saved?: string) => [
  ...(saved ? changesFor(saved, current) : []),
  ...changesFor('10.152.152.10', current),
]

describe('the replacement rule: golden lines', () => {
  const gateway = gatewayChanges('10.137.0.8')
  it.each([
    ['SocksPort 10.152.152.10:9050', 'SocksPort 10.137.0.8:9050'],
    [
      'SocksPort 10.152.152.10:9050 IsolateDestAddr IsolateDestPort',
      'SocksPort 10.137.0.8:9050 IsolateDestAddr IsolateDestPort',
    ],
    ['TransPort 10.152.152.10:9040', 'TransPort 10.137.0.8:9040'],
    ['nameserver 10.152.152.10', 'nameserver 10.137.0.8'],
    ['nameserver 10.152.152.10 ', 'nameserver 10.137.0.8 '],
    ['10.152.152.10', '10.137.0.8'],
    // A comment line is left as it is, indented or not.
    ['#SocksPort 10.152.152.10:9200', '#SocksPort 10.152.152.10:9200'],
    ['   # nameserver 10.152.152.10', '   # nameserver 10.152.152.10'],
    ['\t#10.152.152.10', '\t#10.152.152.10'],
    // White space is what the C locale's isspace() says: form feed and vertical tab too.
    ['\f#10.152.152.10', '\f#10.152.152.10'],
    ['\v# nameserver 10.152.152.10', '\v# nameserver 10.152.152.10'],
    ['\f \v\t# 10.152.152.0/24', '\f \v\t# 10.152.152.0/24'],
    // Other control bytes before `#` do not make a comment.
    ['\x1c#10.152.152.10', '\x1c#10.137.0.8'],
    // A comment after content does not make a comment line.
    ['SocksPort 10.152.152.10:9050 # internal', 'SocksPort 10.137.0.8:9050 # internal'],
    // Where a digit follows, it is another address.
    ['SocksPort 10.152.152.100:9050', 'SocksPort 10.152.152.100:9050'],
    ['nameserver 10.152.152.101', 'nameserver 10.152.152.101'],
    // Other hosts of the /24 are not Whonix's.
    ['Gateway 10.152.152.1', 'Gateway 10.152.152.1'],
    ['route 10.152.152.1 via 10.152.152.11', 'route 10.152.152.1 via 10.152.152.11'],
    // The network address of the same /24.
    ['VirtualAddrNetworkIPv4 10.152.152.0/24', 'VirtualAddrNetworkIPv4 10.137.0.0/24'],
    ['allow 10.152.152.0/24;', 'allow 10.137.0.0/24;'],
    ['10.152.152.0', '10.137.0.0'],
    ['not a network 10.152.152.01', 'not a network 10.152.152.01'],
    // Several on one line.
    ['10.152.152.10 10.152.152.10:1 10.152.152.0/24', '10.137.0.8 10.137.0.8:1 10.137.0.0/24'],
    ['', ''],
  ])('%j becomes %j', (line, expected) => {
    expect(replaceAddresses(line, gateway)).toBe(expected)
  })

  it('replaces IPv6 addresses and their :0 form, only where no hex digit follows', () => {
    const v6 = changesFor('fd19:c33d:88bc::10', 'fd09:24ef:4179::a89:8')
    expect(replaceAddresses('SocksPort [fd19:c33d:88bc::10]:9050', v6)).toBe('SocksPort [fd09:24ef:4179::a89:8]:9050')
    expect(replaceAddresses('nameserver fd19:c33d:88bc::10', v6)).toBe('nameserver fd09:24ef:4179::a89:8')
    expect(replaceAddresses('route fd19:c33d:88bc::0/64', v6)).toBe('route fd09:24ef:4179::a89:0/64')
    expect(replaceAddresses('other fd19:c33d:88bc::100 fd19:c33d:88bc::10a fd19:c33d:88bc::1', v6)).toBe(
      'other fd19:c33d:88bc::100 fd19:c33d:88bc::10a fd19:c33d:88bc::1',
    )
    expect(replaceAddresses('# [fd19:c33d:88bc::10]:9050', v6)).toBe('# [fd19:c33d:88bc::10]:9050')
  })

  it('replaces a saved last address that differs from the default, and the default too', () => {
    const changes = gatewayChanges('10.138.2.5', '10.137.0.8')
    const text = [
      'SocksPort 10.137.0.8:9050',
      'DnsPort 10.152.152.10:5300',
      'allow 10.137.0.0/24',
      'keep 10.137.0.80',
      '# 10.137.0.8',
      '',
    ].join('\n')
    expect(replaceAddresses(text, changes)).toBe(
      [
        'SocksPort 10.138.2.5:9050',
        'DnsPort 10.138.2.5:5300',
        'allow 10.138.2.0/24',
        'keep 10.137.0.80',
        '# 10.137.0.8',
        '',
      ].join('\n'),
    )
  })

  it('gives a workstation its own address and its gateway, the first entry winning the shared /24', () => {
    const changes = [...changesFor('10.152.152.11', '10.137.0.21'), ...changesFor('10.152.152.10', '10.138.4.1')]
    expect(replaceAddresses('local 10.152.152.11 gw 10.152.152.10 net 10.152.152.0/24', changes)).toBe(
      'local 10.137.0.21 gw 10.138.4.1 net 10.137.0.0/24',
    )
  })

  it('keeps every byte that is not an address (CRLF, invalid UTF-8, no final newline)', () => {
    const bytes = Buffer.concat([
      Buffer.from('a 10.152.152.10\r\n'),
      Buffer.from([0xff, 0xc3, 0x0a]),
      Buffer.from('z 10.152.152.10'),
    ])
    const after = Buffer.from(replaceAddresses(bytes.toString('latin1'), gateway), 'latin1')
    expect(
      after.equals(
        Buffer.concat([Buffer.from('a 10.137.0.8\r\n'), Buffer.from([0xff, 0xc3, 0x0a]), Buffer.from('z 10.137.0.8')]),
      ),
    ).toBe(true)
  })

  it('does nothing when the address did not change', () => {
    const same = changesFor('10.137.0.8', '10.137.0.8')
    expect(same).toEqual([
      { from: '10.137.0.8', to: '10.137.0.8' },
      { from: '10.137.0.0', to: '10.137.0.0' },
    ])
    expect(replaceAddresses('a 10.137.0.8 10.137.0.0/24\n', same)).toBe('a 10.137.0.8 10.137.0.0/24\n')
  })

  it('an entry whose address did not change still claims its text: a later entry never rewrites it', () => {
    // The workstation kept its saved address in 10.137.0.0/24; its gateway moved from 10.137.0.1.
    const changes = [
      ...changesFor('10.137.0.21', '10.137.0.21'),
      ...changesFor('10.152.152.11', '10.137.0.21'),
      ...changesFor('10.137.0.1', '10.138.4.1'),
    ]
    const text = 'net 10.152.152.0/24 other 10.137.0.0/24 gw 10.137.0.1 me 10.137.0.21\n'
    expect(replaceAddresses(text, changes)).toBe('net 10.137.0.0/24 other 10.137.0.0/24 gw 10.138.4.1 me 10.137.0.21\n')
  })
})

// Upstream applies each old→new pair in turn over the whole text (perl's s///g here, with
// the same rule: comment lines skipped, no digit after the address). Ours must agree.
const perl = requirePart('perl', 'perl-base')

function upstreamRule(text: string, changes: readonly AddressChange[]): string {
  const script = changes
    .map(
      ({ from, to }) =>
        `s/\\Q${from}\\E(?!${from.includes(':') ? '[0-9A-Fa-f]' : '[0-9]'})/${to}/g unless /^[ \\t]*#/;`,
    )
    .join(' ')
  return execFileSync(perl.path ?? 'perl', ['-pe', script], { input: Buffer.from(text, 'latin1') }).toString('latin1')
}

describe.skipIf(perl.missing)('the replacement rule agrees with upstream, applied pair after pair', () => {
  it('on a thousand generated lines', () => {
    let seed = 42
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    const pieces = [
      '10.152.152.10',
      '10.152.152.11',
      '10.152.152.1',
      '10.152.152.100',
      '10.152.152.0',
      '10.152.152.01',
      '10.137.0.8',
      '10.137.0.80',
      '10.137.0.0',
      'fd19:c33d:88bc::10',
      'fd19:c33d:88bc::11',
      'fd19:c33d:88bc::0',
      'fd19:c33d:88bc::1',
      '[',
      ']',
      ':9050',
      '/24',
      ' ',
      '  ',
      '#',
      'SocksPort',
      'nameserver',
      '0',
      '9',
      'x',
      '\t',
    ]
    const lines = Array.from({ length: 1000 }, () =>
      Array.from({ length: 1 + random(8) }, () => pieces[random(pieces.length)]).join(''),
    )
    const text = lines.join('\n')
    const changes = [
      ...changesFor('10.137.0.8', '10.139.7.21'),
      ...changesFor('10.152.152.11', '10.139.7.21'),
      ...changesFor('10.152.152.10', '10.140.3.4'),
      ...changesFor('fd19:c33d:88bc::11', 'fd09:24ef:4179::a89:15'),
      ...changesFor('fd19:c33d:88bc::10', 'fd09:24ef:4179::a89:8'),
    ]
    const upstream = upstreamRule(text, changes)
    expect(upstream).not.toBe(text)
    expect(replaceAddresses(text, changes)).toBe(upstream)
  })
})
