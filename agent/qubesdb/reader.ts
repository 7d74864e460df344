import { access, constants } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { CodedError } from '../../rpc/errors'
import type { Command, Runner } from '../run'
import { parseQubesdbReadMany, qubesdbReadManyArgs } from './many'
import { checkQubesdbValue, QUBESDB_KEY } from './values'

export type QubesdbRead =
  | { readonly state: 'present'; readonly value: string }
  | { readonly state: 'absent' }
  | { readonly state: 'invalid'; readonly reason: string }
  | { readonly state: 'failed'; readonly reason: string }

export interface QubesdbReader {
  /** The `qubesdb-read` program in use, or null when this is not a Qubes qube. */
  readonly program: string | null
  read(key: string): Promise<QubesdbRead>
  /** The same as `read` for each key, in one qubesdb-read run where the output allows. */
  readMany<K extends string>(keys: readonly K[]): Promise<Record<K, QubesdbRead>>
}

export interface QubesdbLimits {
  readonly timeoutMs: number
  readonly maxValueBytes: number
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The re-rooted `qubesdb-read` first (a simulated qube), then the first one on PATH. */
export async function findQubesdbRead(rootedProgram: string, searchPath: string | undefined): Promise<string | null> {
  const candidates = [
    rootedProgram,
    ...(searchPath ?? '')
      .split(delimiter)
      .filter((dir) => dir.startsWith('/'))
      .map((dir) => join(dir, 'qubesdb-read')),
  ]
  for (const candidate of candidates) if (await isExecutable(candidate)) return candidate
  return null
}

function checkKey(key: string): void {
  if (!QUBESDB_KEY.test(key)) throw new CodedError('QUBESDB_BAD_KEY', `not a qubesdb key: ${JSON.stringify(key)}`)
}

export function qubesdbReadCommand(program: string, key: string, limits: QubesdbLimits): Command {
  checkKey(key)
  return { argv: [program, key], timeoutMs: limits.timeoutMs, maxOutputBytes: limits.maxValueBytes + 1 }
}

/** One run for all `keys`; the output bound is each key's line at its longest. */
export function qubesdbReadManyCommand(program: string, keys: readonly string[], limits: QubesdbLimits): Command {
  keys.forEach(checkKey)
  const maxOutputBytes = keys.reduce((sum, key) => sum + key.length + ' = '.length + limits.maxValueBytes + 1, 0)
  return { argv: [program, ...qubesdbReadManyArgs(keys)], timeoutMs: limits.timeoutMs, maxOutputBytes }
}

function checked(key: string, untrustedValue: string, limits: QubesdbLimits): QubesdbRead {
  const result = checkQubesdbValue(key, untrustedValue, limits.maxValueBytes)
  return result.ok ? { state: 'present', value: result.value } : { state: 'invalid', reason: result.reason }
}

const timedOut = (key: string, limits: QubesdbLimits): QubesdbRead => ({
  state: 'failed',
  reason: `qubesdb-read ${key} did not answer within ${limits.timeoutMs} ms`,
})

export function createQubesdbReader(program: string | null, limits: QubesdbLimits, run: Runner): QubesdbReader {
  async function read(key: string): Promise<QubesdbRead> {
    if (program === null) return { state: 'absent' }
    const result = await run(qubesdbReadCommand(program, key, limits))
    if (result.timedOut) return timedOut(key, limits)
    if (result.overflowed) return { state: 'invalid', reason: `longer than ${limits.maxValueBytes} bytes` }
    if (result.exitCode !== 0) return { state: 'absent' }
    return checked(key, result.stdout, limits)
  }
  async function readMany<K extends string>(keys: readonly K[]): Promise<Record<K, QubesdbRead>> {
    const byKey = async (reads: (key: K) => Promise<QubesdbRead>) =>
      Object.fromEntries(await Promise.all(keys.map(async (key) => [key, await reads(key)]))) as Record<K, QubesdbRead>
    if (program === null || keys.length < 2) return byKey(read)
    const result = await run(qubesdbReadManyCommand(program, keys, limits))
    if (result.timedOut) return byKey(async (key) => timedOut(key, limits))
    const values = result.overflowed ? null : parseQubesdbReadMany(keys, result.stdout)
    // Output that is not one line per present key, or none at all from a failed run (every
    // key missing, or a qubesdb-read that does not know -f): each key on its own, as `read`.
    if (values === null || (values.size === 0 && result.exitCode !== 0)) return byKey(read)
    return byKey(async (key) => {
      const untrustedValue = values.get(key)
      return untrustedValue === undefined ? { state: 'absent' } : checked(key, untrustedValue, limits)
    })
  }
  return { program, read, readMany }
}
