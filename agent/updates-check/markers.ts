import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { errnoCode } from '../../rpc/errors'
import type { AgentContext } from '../context'
import type { Role } from '../role'
import { fileFact, type FileFact } from '../role/facts'
import { readReport, reportPath, type CheckReport } from './report'

export type ProxyVerdict = 'passed' | 'failed' | 'pending' | 'not-applicable'

export interface MarkerState {
  /** Only a Whonix template checks its updates proxy. */
  readonly applicable: boolean
  readonly directory: 'present' | 'missing' | 'not-a-directory' | 'unreadable'
  /** Markers count only as regular files; a link or a directory in their place does not. */
  readonly secureProxy: FileFact
  readonly checkDone: FileFact
  readonly verdict: ProxyVerdict
  /** What the last check run said (proof, or what came back instead); null before any run. */
  readonly report: CheckReport | null
}

export function markerPaths(context: AgentContext): { secure: string; done: string } {
  const { markers } = context.manifest.updatesProxy
  return {
    secure: join(context.paths.updatesProxyCheckDir, markers.secure),
    done: join(context.paths.updatesProxyCheckDir, markers.done),
  }
}

/**
 * Only a regular file proves a pass; anything at check-done's path (a directory, a link)
 * says the check has finished, as `test -e` would: failed at once, never a wait.
 */
export function verdictOf(applicable: boolean, secureProxy: FileFact, checkDone: FileFact): ProxyVerdict {
  if (!applicable) return 'not-applicable'
  if (secureProxy === 'present') return 'passed'
  return checkDone === 'present' || checkDone === 'not-a-file' ? 'failed' : 'pending'
}

async function directoryState(path: string): Promise<MarkerState['directory']> {
  try {
    return (await stat(path)).isDirectory() ? 'present' : 'not-a-directory'
  } catch (error) {
    return errnoCode(error) === 'ENOENT' ? 'missing' : 'unreadable'
  }
}

export async function readMarkerState(context: AgentContext, role: Role): Promise<MarkerState> {
  const applicable = role.qubes && role.class === 'template' && role.whonix !== null
  const paths = markerPaths(context)
  const [directory, secureProxy, checkDone, report] = await Promise.all([
    directoryState(context.paths.updatesProxyCheckDir),
    fileFact(paths.secure, false),
    fileFact(paths.done, false),
    applicable ? readReport(reportPath(context)) : null,
  ])
  return {
    applicable,
    directory,
    secureProxy,
    checkDone,
    verdict: verdictOf(applicable, secureProxy, checkDone),
    report,
  }
}
