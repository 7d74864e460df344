import { stat } from 'node:fs/promises'
import { CodedError } from '../../rpc/errors'
import type { AgentContext } from '../context'
import { transportsOf, type Bridge, type Transport } from './bridges'

async function isProgram(path: string): Promise<boolean> {
  const info = await stat(path).catch(() => null)
  return info !== null && info.isFile() && (info.mode & 0o111) !== 0
}

/**
 * The plugin program of each transport the bridges use: the first of the manifest's
 * candidates installed (an executable regular file). A transport without one is refused,
 * naming the first bridge line that uses it and the Debian package that brings it.
 */
export async function pluginsFor(context: AgentContext, bridges: readonly Bridge[]): Promise<Map<Transport, string>> {
  const plugins = new Map<Transport, string>()
  for (const transport of transportsOf(bridges)) {
    const known = context.manifest.torSettings.plugins[transport]
    const candidates = known?.programs ?? []
    let found: string | undefined
    for (const program of candidates)
      if (found === undefined && (await isProgram(context.paths.under(program)))) found = program
    if (found === undefined) {
      const line = bridges.find((bridge) => bridge.transport === transport)?.number ?? 0
      const hint = known ? ` (install the Debian package ${known.package}: ${candidates.join(' or ')})` : ''
      throw new CodedError(
        'TOR_PLUGIN_MISSING',
        `bridge line ${line} uses ${transport}, whose plugin is not installed${hint}`,
        { exitCode: 2 },
      )
    }
    plugins.set(transport, found)
  }
  return plugins
}
