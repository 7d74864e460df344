import { describe, expect, it } from 'vitest'
import { parseDescriptor } from '../../rpc/descriptor'
import { jsonHandler } from '../../rpc/json'
import { jsonOf, rawCall, serveOnSocket } from '../rpc/serve-helper'

// qrexec-agent writes the descriptor as bytes: a byte order mark in front is not part of the
// protocol, so a descriptor that starts with one is refused, not decoded away.

const BOM = Buffer.from([0xef, 0xbb, 0xbf])
const descriptor = (text: string) => Buffer.concat([BOM, Buffer.from(text)])

describe('a descriptor that starts with a UTF-8 byte order mark', () => {
  it.each(['whonix.Role dom0', 'qubes.UpdatesProxy+ whonix-gateway-17', 'whonix.X+ anon-whonix name dom0'])(
    'is refused by the parser: %j',
    (text) => {
      expect(() => parseDescriptor(Buffer.from(text))).not.toThrow()
      expect(() => parseDescriptor(descriptor(text))).toThrow(
        /^invalid service descriptor: starts with a UTF-8 byte order mark$/,
      )
    },
  )

  it('is refused over a real socket, and the handler never runs', async () => {
    let served = 0
    const { path } = await serveOnSocket(
      'whonix.Role',
      jsonHandler(() => {
        served++
        return 'served'
      }),
    )
    const refused = jsonOf(await rawCall(path, Buffer.concat([descriptor('whonix.Role dom0'), Buffer.from([0])])))
    expect(refused).toEqual({
      ok: false,
      error: { code: 'DESCRIPTOR_INVALID', message: 'invalid service descriptor: starts with a UTF-8 byte order mark' },
    })
    expect(served).toBe(0)
    // The same call without the mark is served: the refusal is the mark's alone.
    expect(jsonOf(await rawCall(path, 'whonix.Role dom0\0'))).toEqual({ ok: true, result: 'served' })
    expect(served).toBe(1)
  })

  it('is refused when the mark sits anywhere else too (a source or a target name)', () => {
    for (const text of [
      'whonix.Role+ \ufeffsys-whonix',
      'whonix.X+ anon-whonix name \ufeffdom0',
      'whonix.Role\ufeff dom0',
    ])
      expect(() => parseDescriptor(Buffer.from(text))).toThrow(/^invalid service descriptor: /)
  })
})
