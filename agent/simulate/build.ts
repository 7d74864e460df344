import { join } from 'node:path'
import { ensureDirectory } from '../fs/entries'
import type { Manifest } from '../manifest/schema'
import { rootPaths } from '../paths'
import qubesdbStandIn from './qubesdb-read.sh?raw'
import type { Profile } from './profiles'
import { writeWhonixFiles } from './whonix-files'
import { writeSimulatedFile } from './write'

/** The qubesdb-read stand-in's script, reading its database from `dataDir`. */
export function qubesdbStandInScript(dataDir: string): string {
  if (/['\n\\$`"]/.test(dataDir)) throw new TypeError(`unsafe directory for the qubesdb stand-in: ${dataDir}`)
  return qubesdbStandIn.replace('@DATA@', `'${dataDir}'`)
}

/** Writes a qubesdb database for the stand-in: one file per key, the value and a newline. */
export async function writeQubesdbData(dataDir: string, entries: Readonly<Record<string, string>>): Promise<void> {
  for (const [key, value] of Object.entries(entries)) await writeSimulatedFile(join(dataDir, key), `${value}\n`)
}

const touch = (file: string) => writeSimulatedFile(file, '')
const directory = (path: string) => ensureDirectory(path, 0o755)

/** Builds a root that looks like the profile's qube to the agent (and to its re-rooted paths). */
export async function buildSimulatedQube(root: string, profile: Profile, manifest: Manifest): Promise<void> {
  const paths = rootPaths(manifest.paths, root)
  const serviceKeys = Object.fromEntries(profile.services.map((name) => [`/qubes-service/${name}`, '1']))
  await writeQubesdbData(paths.simulatedQubesdb, { ...profile.qubesdb, ...serviceKeys })
  await writeSimulatedFile(paths.qubesdbRead, qubesdbStandInScript(paths.simulatedQubesdb), 0o755)

  directory(paths.runQubes)
  if (profile.typeMarker) await touch(join(paths.runQubes, manifest.qubes.typeMarkers[profile.typeMarker]))
  await touch(join(paths.runQubes, manifest.qubes.persistenceMarkers[profile.persistence]))
  directory(paths.runQubesService)
  for (const name of profile.services) await touch(join(paths.runQubesService, name))
  if (profile.whonix === 'gateway') await touch(paths.gatewayMarker)
  if (profile.whonix === 'workstation') await touch(paths.workstationMarker)
  if (profile.typeMarker === 'template') directory(paths.updatesProxyCheckDir)
  if (profile.whonix !== null) await writeWhonixFiles(root, manifest, profile.whonix)
}
