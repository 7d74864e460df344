import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { createQubesdbReader, findQubesdbRead, qubesdbReadCommand } from '../../../agent/qubesdb/reader'
import { checkQubesdbValue } from '../../../agent/qubesdb/values'
import { spawnCommand, type Runner } from '../../../agent/run'
import { qubesdbStandInScript, writeQubesdbData } from '../../../agent/simulate/build'
import { tempRoot } from '../../helpers/sandbox'

const HOSTILE = fileURLToPath(new URL('../../fixtures/qubesdb-read-hostile.sh', import.meta.url))
const LIMITS = { timeoutMs: 500, maxValueBytes: 4096 }

/** Runs the hostile stand-in in the given mode. */
const hostile =
  (mode: string): Runner =>
  (command) =>
    spawnCommand({ ...command, env: { PATH: '/usr/bin:/bin', HOSTILE: mode } })

describe('qubesdb values', () => {
  it.each([
    ['/qubes-ip', '10.137.0.5\n', '10.137.0.5'],
    ['/qubes-ip6', 'fd09:24ef:4179::a89:5\n', 'fd09:24ef:4179::a89:5'],
    ['/qubes-netmask', '255.255.255.0\n', '255.255.255.0'],
    ['/qubes-vm-type', 'ProxyVM\n', 'ProxyVM'],
    ['/type', 'DispVM', 'DispVM'],
    ['/name', 'sys-whonix\n', 'sys-whonix'],
    ['/qubes-service/qubes-updates-proxy', '1\n', '1'],
  ])('accepts %s = %j', (key, output, value) => {
    expect(checkQubesdbValue(key, output, 4096)).toEqual({ ok: true, value })
  })

  it.each([
    ['/qubes-ip', '10.137.0.256', /not an IPv4 address/],
    ['/qubes-ip', '10.137.0.5 ', /not an IPv4 address/],
    ['/qubes-gateway6', '10.137.0.1', /not an IPv6 address/],
    ['/qubes-netmask', '255.0.255.0', /not an IPv4 netmask/],
    ['/qubes-vm-type', 'DispVM', /one of TemplateVM/],
    ['/qubes-vm-persistence', 'FULL', /one of full/],
    ['/name', '-rf', /qube name/],
    ['/name', 'a'.repeat(32), /qube name/],
    ['/qubes-service/x', 'yes', /0 or 1/],
    ['/type', 'AppVM\nTemplateVM', /line break/],
    ['/custom', 'tab\there', /control character/],
    ['/custom', 'x'.repeat(5000), /longer than 4096 bytes/],
  ])('rejects %s = %j', (key, output, reason) => {
    const result = checkQubesdbValue(key, output, 4096)
    expect(result.ok).toBe(false)
    expect(result.ok ? '' : result.reason).toMatch(reason)
  })

  it('builds the command as data and refuses keys that are not qubesdb paths', () => {
    expect(qubesdbReadCommand('/usr/bin/qubesdb-read', '/qubes-ip', LIMITS)).toEqual({
      argv: ['/usr/bin/qubesdb-read', '/qubes-ip'],
      timeoutMs: 500,
      maxOutputBytes: 4097,
    })
    for (const key of ['qubes-ip', '/qubes-ip; rm -rf /', '/../x', '/a//b', '-n'])
      expect(() => qubesdbReadCommand('/q', key, LIMITS)).toThrow(/not a qubesdb key/)
  })
})

describe('the qubesdb reader against real processes', () => {
  it('reads values through the stand-in, and a missing key is absent', async () => {
    const root = await tempRoot()
    const data = join(root, 'db')
    await writeQubesdbData(data, { '/qubes-ip': '10.137.0.9', '/qubes-service/foo': '1' })
    const program = join(root, 'qubesdb-read')
    await writeFile(program, qubesdbStandInScript(data))
    await chmod(program, 0o755)
    const reader = createQubesdbReader(program, LIMITS, spawnCommand)
    expect(await reader.read('/qubes-ip')).toEqual({ state: 'present', value: '10.137.0.9' })
    expect(await reader.read('/qubes-service/foo')).toEqual({ state: 'present', value: '1' })
    expect(await reader.read('/qubes-gateway')).toEqual({ state: 'absent' })
  })

  it('is absent everywhere when there is no qubesdb-read', async () => {
    expect(await createQubesdbReader(null, LIMITS, spawnCommand).read('/name')).toEqual({ state: 'absent' })
  })

  it('kills a qubesdb-read that hangs, within the bound', async () => {
    const started = Date.now()
    const result = await createQubesdbReader(HOSTILE, LIMITS, hostile('hang')).read('/type')
    expect(result).toEqual({ state: 'failed', reason: 'qubesdb-read /type did not answer within 500 ms' })
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it.each([
    ['newline', /line break/],
    ['control', /control character/],
    ['bad-ip', /not an IPv4 address/],
    ['latin1', /not valid UTF-8/],
    ['huge', /longer than 4096 bytes/],
  ])('reports a %s value as invalid and never uses it', async (mode, reason) => {
    const key = mode === 'bad-ip' ? '/qubes-ip' : '/type'
    const result = await createQubesdbReader(HOSTILE, LIMITS, hostile(mode)).read(key)
    expect(result.state).toBe('invalid')
    expect(result.state === 'invalid' ? result.reason : '').toMatch(reason)
  })

  it('looks for qubesdb-read under the root first, then on PATH', async () => {
    const root = await tempRoot()
    const rooted = join(root, 'usr/bin/qubesdb-read')
    const onPath = join(root, 'elsewhere')
    await mkdir(onPath, { recursive: true })
    await writeFile(join(onPath, 'qubesdb-read'), '#!/bin/sh\n')
    await chmod(join(onPath, 'qubesdb-read'), 0o755)
    expect(await findQubesdbRead(rooted, `relative/dir:${onPath}`)).toBe(join(onPath, 'qubesdb-read'))
    await mkdir(join(root, 'usr/bin'), { recursive: true })
    await writeFile(rooted, '#!/bin/sh\n')
    await chmod(rooted, 0o644)
    expect(await findQubesdbRead(rooted, onPath)).toBe(join(onPath, 'qubesdb-read'))
    await chmod(rooted, 0o755)
    expect(await findQubesdbRead(rooted, onPath)).toBe(rooted)
    expect(await findQubesdbRead(join(root, 'none'), '')).toBeNull()
  })
})
