import { access, constants } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { CodedError } from '../../rpc/errors'
import type { Command, Runner } from '../run'
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
  const candidates = [rootedProgram, ...(searchPath ?? '').split(delimiter).filter((dir) => dir.startsWith('/')).map((dir) => join(dir, 'qubesdb-read'))]
  for (const candidate of candidates) if (await isExecutable(candidate)) return candidate
  return null
}

export function qubesdbReadCommand(program: string, key: string, limits: QubesdbLimits): Command {
  if (!QUBESDB_KEY.test(key)) throw new CodedError('QUBESDB_BAD_KEY', `not a qubesdb key: ${JSON.stringify(key)}`)
  return { argv: [program, key], timeoutMs: limits.timeoutMs, maxOutputBytes: limits.maxValueBytes + 1 }
}

export function createQubesdbReader(program: string | null, limits: QubesdbLimits, run: Runner): QubesdbReader {
  return {
    program,
    async read(key) {
      if (program === null) return { state: 'absent' }
      const result = await run(qubesdbReadCommand(program, key, limits))
      if (result.timedOut) return { state: 'failed', reason: `qubesdb-read ${key} did not answer within ${limits.timeoutMs} ms` }
      if (result.overflowed) return { state: 'invalid', reason: `longer than ${limits.maxValueBytes} bytes` }
      if (result.exitCode !== 0) return { state: 'absent' }
      const checked = checkQubesdbValue(key, result.stdout, limits.maxValueBytes)
      return checked.ok ? { state: 'present', value: checked.value } : { state: 'invalid', reason: checked.reason }
    },
  }
}
