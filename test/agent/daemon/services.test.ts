import { readFileSync, readdirSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough, Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createContext } from '../../../agent/context'
import { HANDLERS, shippedManifest } from '../../../agent/features'
import { currentRole } from '../../../agent/role'
import { handlerFactory } from '../../../agent/services/registry'
import { parseTimestamp } from '../../../agent/clock/set-date-time'
import { DEFAULT_LIMITS, silentLog, type RpcCall } from '../../../rpc/call'
import { runAgent } from '../../helpers/cli'
import { tempRoot } from '../../helpers/sandbox'

/** Runs one call of a registered handler in-process; resolves to its output. */
async function callHandler(
  root: string,
  name: string,
  input: string,
  maxInputBytes = DEFAULT_LIMITS.maxInputBytes,
): Promise<string> {
  const context = await createContext({ root, manifest: shippedManifest(), env: { PATH: '' } })
  const role = await currentRole(context)
  const handler = (await handlerFactory(name, HANDLERS))(context, {
    role,
    log: silentLog,
    daemonStatus: () => ({ running: false, reason: 'test' }),
  })
  const chunks: Buffer[] = []
  const output = new Writable({ write: (chunk: Buffer, _e, done) => void (chunks.push(chunk), done()) })
  const inputStream = new PassThrough()
  inputStream.end(input)
  const call: RpcCall = {
    service: name,
    argument: null,
    source: 'dom0',
    target: null,
    descriptor: { service: name, argument: null, source: 'dom0', target: null },
    input: inputStream,
    output,
    signal: new AbortController().signal,
    limits: { ...DEFAULT_LIMITS, maxInputBytes },
    log: silentLog,
  }
  await handler.serve(call)
  return Buffer.concat(chunks).toString()
}

async function gateway(): Promise<string> {
  const root = await tempRoot('qwa-services-')
  expect((await runAgent(['--root', root, 'simulate', '--as', 'gateway'])).code).toBe(0)
  return root
}

describe('qubes.SetDateTime', () => {
  it('accepts the ISO 8601 times dom0 sends', () => {
    for (const text of [
      '2026-01-31T12:00:00+00:00',
      '2026-01-31T12:00:00Z',
      '2026-01-31T12:00:00.123456789+0100',
      '2026-01-31T12:00:00,5-05:30',
    ])
      expect(parseTimestamp(text).text).toBe(text)
    expect(parseTimestamp('2026-01-31T12:00:00Z\r').text).toBe('2026-01-31T12:00:00Z')
  })
  it('refuses anything else with TIMESTAMP_INVALID', () => {
    for (const text of [
      '',
      'now',
      '2026-01-31 12:00:00',
      '2026-01-31T12:00:00',
      '2026-13-01T00:00:00Z',
      '1999-01-01T00:00:00Z',
      '2026-01-31T25:61:00Z',
      '2026-01-31T12:00:00Z; rm -rf /',
      '\u0000',
    ])
      expect(() => parseTimestamp(text), text).toThrow(expect.objectContaining({ code: 'TIMESTAMP_INVALID' }))
  })
  it('refuses dates that do not exist (no rolling over into the next month), with a clear reason', () => {
    const refused: [string, RegExp][] = [
      ['2026-02-30T12:00:00+00:00', /day 30 does not exist in 2026-02/],
      ['2026-02-29T12:00:00Z', /day 29 does not exist in 2026-02/],
      ['2100-02-29T12:00:00Z', /day 29 does not exist in 2100-02/],
      ['2026-04-31T12:00:00Z', /day 31 does not exist in 2026-04/],
      ['2026-01-00T12:00:00Z', /day 0 does not exist/],
      ['2026-00-10T12:00:00Z', /month 0 does not exist/],
      ['2026-01-31T24:00:00Z', /time of day is out of range/],
      ['2026-01-31T12:60:00Z', /time of day is out of range/],
      ['2026-01-31T12:00:60Z', /time of day is out of range/],
      ['2026-01-31T12:00:00+24:00', /offset is out of range/],
      ['2026-01-31T12:00:00+01:60', /offset is out of range/],
      ['2201-01-01T00:00:00Z', /year 2201 is outside 2000-2200/],
    ]
    for (const [text, reason] of refused)
      expect(() => parseTimestamp(text), text).toThrow(
        expect.objectContaining({ code: 'TIMESTAMP_INVALID', message: expect.stringMatching(reason) }),
      )
  })
  it('accepts the days that do exist, leap days included, at the instant they name', () => {
    const accepted: [string, string][] = [
      ['2028-02-29T12:00:00Z', '2028-02-29T12:00:00.000Z'],
      ['2000-02-29T00:00:00+00:00', '2000-02-29T00:00:00.000Z'],
      ['2026-04-30T23:59:59-01:00', '2026-05-01T00:59:59.000Z'],
      ['2026-12-31T23:59:59,9876+0530', '2026-12-31T18:29:59.987Z'],
      ['2026-01-31T12:00:00.5Z', '2026-01-31T12:00:00.500Z'],
    ]
    for (const [text, instant] of accepted) {
      expect(new Date(parseTimestamp(text).epochMs).toISOString(), text).toBe(instant)
      expect(parseTimestamp(text).epochMs, text).toBe(Date.parse(text.replace(',', '.')))
    }
  })
  it('25 concurrent calls all record; the file ends holding one whole line', async () => {
    const root = await gateway()
    const lines = Array.from(
      { length: 25 },
      (_, index) => `2026-01-${String(index + 1).padStart(2, '0')}T12:00:00+00:00`,
    )
    const answers = (await Promise.all(lines.map((line) => callHandler(root, 'set-date-time', `${line}\n`)))).map(
      (text) => JSON.parse(text),
    )
    expect(answers.filter((answer) => answer.ok !== true)).toEqual([])
    expect(lines.map((line) => `${line}\n`)).toContain(
      readFileSync(join(root, 'run/qubes-whonix/qubes.SetDateTime'), 'utf8'),
    )
    expect(readdirSync(join(root, 'run/qubes-whonix')).filter((name) => name.includes('SetDateTime'))).toEqual([
      'qubes.SetDateTime',
    ])
  })
  it('records the line atomically under the re-rooted path and never reports setting the clock', async () => {
    const root = await gateway()
    const answer = JSON.parse(
      await callHandler(root, 'set-date-time', '2026-02-03T04:05:06+00:00\nignored second line\n'),
    )
    expect(answer).toEqual({
      ok: true,
      result: {
        recorded: '/run/qubes-whonix/qubes.SetDateTime',
        timestamp: '2026-02-03T04:05:06.000Z',
        clockSet: false,
      },
    })
    expect(readFileSync(join(root, 'run/qubes-whonix/qubes.SetDateTime'), 'utf8')).toBe('2026-02-03T04:05:06+00:00\n')
  })
  it('a line over the limit is INPUT_TOO_LARGE; nothing is recorded', async () => {
    const root = await gateway()
    const answer = JSON.parse(await callHandler(root, 'set-date-time', `${'2'.repeat(300)}\n`, 256))
    expect(answer.error.code).toBe('INPUT_TOO_LARGE')
    expect(existsSync(join(root, 'run/qubes-whonix/qubes.SetDateTime'))).toBe(false)
  })
  it('empty input says no timestamp was sent', async () => {
    expect(JSON.parse(await callHandler(await gateway(), 'set-date-time', '')).error).toEqual({
      code: 'TIMESTAMP_INVALID',
      message: 'no timestamp was sent',
    })
  })
})

describe('whonix.Role, whonix.Status, qubes.SyncNtpClock', () => {
  it('whonix.Role answers the role of role --json', async () => {
    const root = await gateway()
    const role = JSON.parse((await runAgent(['--root', root, 'role', '--json'])).stdout)
    expect(JSON.parse(await callHandler(root, 'role', ''))).toEqual({ ok: true, result: role })
  })
  it('whonix.Status answers the status with the daemon part', async () => {
    const answer = JSON.parse(await callHandler(await gateway(), 'status', ''))
    expect(answer.result).toMatchObject({
      schema: 1,
      role: { whonix: 'gateway' },
      daemon: { running: false, reason: 'test' },
    })
  })
  it('qubes.SyncNtpClock does nothing and says why', async () => {
    expect(JSON.parse(await callHandler(await gateway(), 'sync-ntp-clock', '')).result).toEqual({
      synchronised: false,
      reason: expect.stringMatching(/sdwdate sets the time over Tor/),
    })
  })
  it('every handler the shipped manifest names is registered', () => {
    for (const [service, entry] of Object.entries(shippedManifest().services.table))
      expect(Object.keys(HANDLERS), service).toContain(entry.handler)
  })
})
