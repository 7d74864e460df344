import { describe, expect, it } from 'vitest'
import { descriptorFor, formatDescriptor, MAX_DESCRIPTOR_BYTES, parseDescriptor } from '../../rpc/descriptor'
import { CodedError } from '../../rpc/errors'
import { badDescriptors } from './bad-descriptors'

const parse = (text: string | Uint8Array) => parseDescriptor(typeof text === 'string' ? Buffer.from(text) : text)

describe('parseDescriptor: the forms qrexec sends', () => {
  it('dom0 calling a qube, with and without an argument (no + added by dom0)', () => {
    expect(parse('whonix.Role dom0')).toEqual({ service: 'whonix.Role', argument: null, source: 'dom0', target: null })
    expect(parse('whonix.Role+abc dom0')).toEqual({
      service: 'whonix.Role',
      argument: 'abc',
      source: 'dom0',
      target: null,
    })
  })
  it('a qube calling a qube: the daemon adds + when there is no argument', () => {
    expect(parse('qubes.UpdatesProxy+ whonix-gateway-17')).toEqual({
      service: 'qubes.UpdatesProxy',
      argument: '',
      source: 'whonix-gateway-17',
      target: null,
    })
    expect(parse('a.B+x+y.z work_1')).toMatchObject({ service: 'a.B', argument: 'x+y.z', source: 'work_1' })
  })
  it('a qube calling dom0 by name and by keyword', () => {
    expect(parse('whonix.X+ anon-whonix name dom0')).toEqual({
      service: 'whonix.X',
      argument: '',
      source: 'anon-whonix',
      target: { type: 'name', value: 'dom0' },
    })
    expect(parse('whonix.X+a sys-net keyword adminvm').target).toEqual({ type: 'keyword', value: 'adminvm' })
  })
  it('the service name may be exactly 255 bytes, not 256', () => {
    expect(parse(`${'s'.repeat(255)} dom0`).service).toHaveLength(255)
    expect(() => parse(`${'s'.repeat(256)} dom0`)).toThrow(/longer than 255/)
  })
  it('formatDescriptor and descriptorFor round-trip what qrexec-agent sends', () => {
    expect(formatDescriptor(descriptorFor('whonix.Role', 'dom0'))).toBe('whonix.Role dom0')
    expect(formatDescriptor(descriptorFor('whonix.Role', 'anon-whonix'))).toBe('whonix.Role+ anon-whonix')
    expect(formatDescriptor(descriptorFor('s+a', 'q', { type: 'keyword', value: 'adminvm' }))).toBe(
      's+a q keyword adminvm',
    )
  })
})

describe('parseDescriptor: hostile input', () => {
  it('refuses 10,000 generated bad descriptors, each with DESCRIPTOR_INVALID and a printable one-line message', () => {
    const inputs = badDescriptors(10_000)
    for (const [index, input] of inputs.entries()) {
      let error: unknown
      try {
        parse(input)
      } catch (caught) {
        error = caught
      }
      if (!(error instanceof CodedError) || error.code !== 'DESCRIPTOR_INVALID')
        throw new Error(
          `input #${index} ${JSON.stringify(Buffer.from(input).toString('latin1'))} was not refused as DESCRIPTOR_INVALID: ${String(error)}`,
        )
      expect(error.message).toMatch(/^invalid service descriptor: [\x20-\x7e]+$/)
      expect(error.message.length).toBeLessThan(300)
    }
  })
  it('refuses empty, oversized and invalid UTF-8 descriptors saying which', () => {
    expect(() => parse('')).toThrow(/empty/)
    expect(() => parse(Buffer.alloc(MAX_DESCRIPTOR_BYTES + 1, 0x61))).toThrow(/longer than 65000/)
    expect(() => parse(Buffer.from([0x73, 0xff, 0x20, 0x64]))).toThrow(/UTF-8/)
    expect(() => parse('+arg dom0')).toThrow(/empty service name/)
  })
})
