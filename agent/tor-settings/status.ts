import { errorMessage } from '../../rpc/errors'
import type { AgentContext } from '../context'
import { readBootstrapPhase } from '../tor/bootstrap'
import { openTorControl } from '../tor/client'
import { torControlSettings } from '../tor/settings'
import { readCurrentFile, summarizeBridges, type BridgeSummary } from './apply'
import { readTorView } from './reload'

/** The answer of `tor status` and whonix.Tor+status; part of `status` on a gateway. */
export interface TorSettingsStatus {
  /** Our file says DisableNetwork 0. */
  readonly enabled: boolean
  readonly file: {
    readonly path: string
    readonly exists: boolean
    readonly writtenBy: 'agent' | 'other' | null
    readonly editedByHand: boolean
  }
  /** Bridges in the file: how many and which transports, never the lines. */
  readonly bridges: BridgeSummary
  /** What the running Tor says. */
  readonly tor: {
    readonly reachable: boolean
    readonly disableNetwork: boolean | null
    readonly bootstrap: { readonly progress: number; readonly tag: string; readonly summary: string } | null
    readonly lastWarning: string | null
    readonly error: string | null
  }
}

async function askTor(context: AgentContext): Promise<TorSettingsStatus['tor']> {
  let control
  try {
    control = await openTorControl(torControlSettings(context))
  } catch (error) {
    return { reachable: false, disableNetwork: null, bootstrap: null, lastWarning: null, error: errorMessage(error) }
  }
  try {
    const view = await readTorView(control)
    const phase = await readBootstrapPhase(control.connection)
    return {
      reachable: true,
      disableNetwork: view.disableNetwork,
      bootstrap: { progress: phase.progress, tag: phase.tag, summary: phase.summary },
      lastWarning: phase.warning,
      error: null,
    }
  } catch (error) {
    return { reachable: true, disableNetwork: null, bootstrap: null, lastWarning: null, error: errorMessage(error) }
  } finally {
    control.connection.close()
  }
}

export async function torSettingsStatus(context: AgentContext): Promise<TorSettingsStatus> {
  const [current, tor] = await Promise.all([readCurrentFile(context), askTor(context)])
  const parsed = current?.parsed
  return {
    enabled: parsed?.enabled ?? false,
    file: {
      path: context.manifest.torSettings.file,
      exists: current !== null,
      writtenBy: parsed?.writtenBy ?? null,
      editedByHand: parsed?.editedByHand ?? false,
    },
    bridges: summarizeBridges(parsed?.bridgeLines ?? []),
    tor,
  }
}

/** One line for `status`: the switch, bridges, what Tor says. */
export function torSettingsSummary(status: TorSettingsStatus): string {
  const bridges =
    status.bridges.count === 0
      ? 'no bridges'
      : `${status.bridges.count} bridge(s): ${status.bridges.transports.join(', ')}`
  const tor = status.tor.reachable
    ? `Tor: DisableNetwork ${status.tor.disableNetwork === null ? '?' : status.tor.disableNetwork ? 1 : 0}, bootstrap ${status.tor.bootstrap?.progress ?? '?'}%`
    : 'Tor not reachable'
  const hand = status.file.editedByHand
    ? '; the file was edited by hand'
    : status.file.writtenBy === 'other'
      ? '; the file was written by another program'
      : ''
  return `${status.enabled ? 'enabled' : 'disabled'}, ${bridges}; ${tor}${hand}`
}
