import { statSync } from 'node:fs'
import { lstat, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { errnoCode } from '../../rpc/errors'
import type { QubesdbRead, QubesdbReader } from '../qubesdb/reader'
import { QUBES_SERVICE_NAME } from '../qubesdb/values'

/** What a qube exposes about itself, read once; detect.ts turns it into a role. */
export type FileFact = 'present' | 'missing' | 'not-a-file' | 'unreadable'

export interface RoleFacts {
  readonly qubesdbProgram: string | null
  readonly qubesdb: Readonly<Record<RoleQubesdbKey, QubesdbRead>>
  readonly typeMarkers: Readonly<Record<'template' | 'app' | 'net' | 'proxy', FileFact>>
  readonly persistenceMarkers: Readonly<Record<'full' | 'rw-only' | 'none', FileFact>>
  readonly whonixMarkers: Readonly<Record<'gateway' | 'workstation', FileFact>>
  readonly services: {
    readonly names: readonly string[]
    readonly rejected: readonly string[]
    readonly error?: string
  }
  /** System paths (not re-rooted) of everything consulted, for evidence lines. */
  readonly sources: Readonly<Record<string, string>>
}

export const ROLE_QUBESDB_KEYS = ['/type', '/qubes-vm-type', '/qubes-vm-persistence', '/name'] as const
export type RoleQubesdbKey = (typeof ROLE_QUBESDB_KEYS)[number]

/** Whether `path` is a regular file; with `followLinks: false` a symbolic link is not one. */
export async function fileFact(path: string, followLinks = true): Promise<FileFact> {
  try {
    return (await (followLinks ? stat : lstat)(path)).isFile() ? 'present' : 'not-a-file'
  } catch (error) {
    return missingOrUnreadable(error)
  }
}

/**
 * The rule for the markers that say what a qube is (the Whonix flavour files): something is
 * there when stat() finds it, whatever its type (a file, a directory, a link to one), as sh's
 * `test -e` and systemd's ConditionPathExists= see it. Shell, units and agent apply this one
 * test, so none of them takes a Whonix template for another qube.
 */
export async function markerFact(path: string): Promise<FileFact> {
  try {
    await stat(path)
    return 'present'
  } catch (error) {
    return missingOrUnreadable(error)
  }
}

/** markerFact, synchronous (decided per connection by the updates gate). */
export function markerExistsSync(path: string): boolean {
  try {
    statSync(path)
    return true
  } catch {
    return false
  }
}

function missingOrUnreadable(error: unknown): FileFact {
  const code = errnoCode(error)
  return code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : 'unreadable'
}

async function factsFor<K extends string>(
  dir: string,
  names: Readonly<Record<K, string>>,
): Promise<Record<K, FileFact>> {
  const entries = await Promise.all(
    Object.entries<string>(names).map(async ([key, name]) => [key, await fileFact(join(dir, name))] as const),
  )
  return Object.fromEntries(entries) as Record<K, FileFact>
}

const MAX_SERVICES = 1024

export async function enabledServices(dir: string): Promise<RoleFacts['services']> {
  let untrustedNames: string[]
  try {
    untrustedNames = await readdir(dir)
  } catch (error) {
    const code = errnoCode(error)
    return code === 'ENOENT'
      ? { names: [], rejected: [] }
      : { names: [], rejected: [], error: `cannot list ${dir}: ${code}` }
  }
  const names = untrustedNames.filter((name) => QUBES_SERVICE_NAME.test(name) && name.length <= 255)
  const rejected = untrustedNames
    .filter((name) => !names.includes(name))
    .map((name) => JSON.stringify(name.slice(0, 64)))
  return { names: names.sort().slice(0, MAX_SERVICES), rejected }
}

export interface FactPaths {
  readonly runQubes: string
  readonly runQubesService: string
  readonly gatewayMarker: string
  readonly workstationMarker: string
}

export interface MarkerNames {
  readonly typeMarkers: Readonly<Record<'template' | 'app' | 'net' | 'proxy', string>>
  readonly persistenceMarkers: Readonly<Record<'full' | 'rw-only' | 'none', string>>
}

export async function gatherRoleFacts(
  rooted: FactPaths,
  system: FactPaths,
  markers: MarkerNames,
  qubesdb: QubesdbReader,
): Promise<RoleFacts> {
  // The file checks are under way in the thread pool before qubesdb-read runs, which may block.
  const [typeMarkers, persistenceMarkers, gateway, workstation, services, qubesdbFacts] = await Promise.all([
    factsFor(rooted.runQubes, markers.typeMarkers),
    factsFor(rooted.runQubes, markers.persistenceMarkers),
    markerFact(rooted.gatewayMarker),
    markerFact(rooted.workstationMarker),
    enabledServices(rooted.runQubesService),
    qubesdb.readMany(ROLE_QUBESDB_KEYS),
  ])
  return {
    qubesdbProgram: qubesdb.program,
    qubesdb: qubesdbFacts,
    typeMarkers,
    persistenceMarkers,
    whonixMarkers: { gateway, workstation },
    services,
    sources: {
      runQubes: system.runQubes,
      runQubesService: system.runQubesService,
      gatewayMarker: system.gatewayMarker,
      workstationMarker: system.workstationMarker,
    },
  }
}
