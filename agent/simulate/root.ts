import { opendir, realpath, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { CodedError } from '../../rpc/errors'
import { writeFileAtomic } from '../fs/atomic-write'
import { readFileThrough } from '../fs/resolve'
import { PROFILE_NAMES, type ProfileName } from './profiles'

/** The file that tells a directory is a simulated qube, and of which profile. */
export const SIMULATION_MARKER = '.qubes-whonix-agent-simulation'
const MAX_MARKER_BYTES = 256

const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException).code

async function isEmptyDirectory(path: string): Promise<boolean> {
  const listing = await opendir(path)
  try {
    return (await listing.read()) === null
  } finally {
    await listing.close()
  }
}

/** The profile an earlier `simulate` built in `root`, or null when it holds no simulation. */
async function simulatedProfile(root: string): Promise<ProfileName | null> {
  const read = await readFileThrough(join(root, SIMULATION_MARKER), { maxBytes: MAX_MARKER_BYTES }).catch(() => null)
  const untrustedName = read?.content.toString('utf8').trim()
  return PROFILE_NAMES.find((name) => name === untrustedName) ?? null
}

/**
 * Where `simulate --root` may build `profile`: a new or empty directory, or one an earlier
 * simulation of the same profile built (building again is idempotent). Never the real
 * system's root, however it is spelled (`/.`, `//`, `/tmp/..`, a link to /): that would
 * put a simulated qube over the system. Resolves to the directory's real path.
 */
export async function simulationRoot(untrustedRoot: string, profile: ProfileName): Promise<string> {
  const lexical = resolve(untrustedRoot)
  const real = await realpath(lexical).catch((error: unknown) => {
    if (errnoOf(error) === 'ENOENT') return null
    throw new CodedError(
      'SIMULATE_ROOT_UNUSABLE',
      `simulate: cannot use --root ${untrustedRoot}: ${errnoOf(error) ?? String(error)}`,
      { exitCode: 2 },
    )
  })
  if (lexical === '/' || real === '/')
    throw new CodedError(
      'SIMULATE_ROOT_IS_SYSTEM',
      `simulate: --root ${untrustedRoot} is the system's own root (/); give a new or empty directory`,
      { exitCode: 2 },
    )
  if (real === null) return lexical
  if (!(await stat(real)).isDirectory())
    throw new CodedError('SIMULATE_ROOT_UNUSABLE', `simulate: --root ${untrustedRoot} is not a directory`, {
      exitCode: 2,
    })
  if (await isEmptyDirectory(real)) return real
  const earlier = await simulatedProfile(real)
  if (earlier === null)
    throw new CodedError(
      'SIMULATE_ROOT_NOT_EMPTY',
      `simulate: --root ${untrustedRoot} is a non-empty directory that no simulation built; give a new or empty directory`,
      { exitCode: 2 },
    )
  if (earlier !== profile)
    throw new CodedError(
      'SIMULATE_ROOT_NOT_EMPTY',
      `simulate: --root ${untrustedRoot} holds a simulated ${earlier}; remove it or give another directory for ${profile}`,
      { exitCode: 2 },
    )
  return real
}

/** Marks `root` as a simulation of `profile` (first, so that a build cut short can be run again). */
export async function markSimulation(root: string, profile: ProfileName): Promise<void> {
  await writeFileAtomic(join(root, SIMULATION_MARKER), `${profile}\n`, {
    mode: 0o644,
    directoryMode: 0o755,
    replaceLink: true,
  })
}
