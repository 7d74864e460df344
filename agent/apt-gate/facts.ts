import { lstatSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { errnoCode } from '../../rpc/errors'
import type { AgentContext } from '../context'
import { markerFact, type FileFact } from '../role/facts'
import { markerPaths, verdictOf, type MarkerState } from '../updates-check/markers'
import type { GateFacts } from './conditions'

/** The inputs of gateScope, read from this qube (re-rooted by --root). */
export async function gatherGateFacts(context: AgentContext): Promise<GateFacts> {
  const { manifest, paths } = context
  const [templateMarker, gateway, workstation] = await Promise.all([
    markerFact(join(paths.runQubes, manifest.qubes.typeMarkers.template)),
    markerFact(paths.gatewayMarker),
    markerFact(paths.workstationMarker),
  ])
  return {
    skipValue: context.env[manifest.aptGate.skip.variable],
    qubesdbRead: context.qubesdb.program !== null,
    templateMarker: templateMarker === 'present',
    whonixMarker: gateway === 'present' || workstation === 'present',
  }
}

/** One look at the marker directory: what the wait decides on. */
export interface MarkerReading {
  readonly directory: MarkerState['directory']
  /** The directory's inode, to notice it being replaced under a watch. */
  readonly inode: number | null
  readonly secureProxy: FileFact
  readonly checkDone: FileFact
  readonly verdict: 'passed' | 'failed' | 'pending'
}

function directoryOf(path: string): Pick<MarkerReading, 'directory' | 'inode'> {
  try {
    const info = statSync(path)
    return info.isDirectory()
      ? { directory: 'present', inode: info.ino }
      : { directory: 'not-a-directory', inode: null }
  } catch (error) {
    return { directory: errnoCode(error) === 'ENOENT' ? 'missing' : 'unreadable', inode: null }
  }
}

/** fileFact (role/facts.ts) without following links, synchronous. */
function resultMarkerFact(path: string): FileFact {
  try {
    return lstatSync(path).isFile() ? 'present' : 'not-a-file'
  } catch (error) {
    const code = errnoCode(error)
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : 'unreadable'
  }
}

export type MarkerReader = () => Promise<MarkerReading>

/**
 * Reads the markers as updates-check/markers.ts defines them: regular files only, links do
 * not count. Synchronous stats (microseconds each): an inotify event is answered on the
 * main thread alone, without a round trip through libuv's thread pool.
 */
export function markerReader(context: AgentContext): MarkerReader {
  const files = markerPaths(context)
  return async () => {
    const where = directoryOf(context.paths.updatesProxyCheckDir)
    const secureProxy = resultMarkerFact(files.secure)
    const checkDone = resultMarkerFact(files.done)
    return {
      ...where,
      secureProxy,
      checkDone,
      verdict: verdictOf(true, secureProxy, checkDone) as MarkerReading['verdict'],
    }
  }
}
