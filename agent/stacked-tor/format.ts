import type { DaemonStatus } from '../daemon/status'
import type { ForwarderStatus } from './forwarder'
import type { StackedTorStatus } from './part'

export const PART_NAME = 'stacked-tor'

/** The part's status from the daemon's answer, or why there is none. */
export function stackedTorOf(daemon: DaemonStatus): { status: StackedTorStatus } | { none: string } {
  if (!daemon.running) return { none: `unknown: the daemon is not running (${daemon.reason})` }
  if (daemon.busy) return { none: `unknown: the daemon is busy (${daemon.reason})` }
  const part = daemon.parts[PART_NAME]
  if (part === undefined) return { none: 'not running here (Whonix-Workstations and their templates only)' }
  if (part.state === 'failed') return { none: `failed: ${part.error}` }
  return { status: part.status as StackedTorStatus }
}

const arrow = (row: ForwarderStatus) => `${row.listen} -> ${row.target ?? 'nowhere'}`

/** One line for `status`: how many forwarders listen, and the reason when none do on purpose. */
export function stackedTorSummary(daemon: DaemonStatus): string {
  const found = stackedTorOf(daemon)
  if ('none' in found) return found.none
  const { status } = found
  const base = `${status.listening} of ${status.total} listening (${status.mode})`
  return status.reason === undefined ? base : `${base}; ${status.reason}`
}

/** Lines under the summary: every forwarder when verbose, else only the problems, grouped by reason. */
export function stackedTorDetails(daemon: DaemonStatus, verbose: boolean): string[] {
  const found = stackedTorOf(daemon)
  if ('none' in found) return []
  const { forwarders, torState } = found.status
  if (verbose) {
    const width = Math.max(...forwarders.map((row) => arrow(row).length))
    const lines = forwarders.map((row) => {
      const errors = Object.entries(row.errors).map(([cause, count]) => `${cause} x${count}`)
      const counts = `${row.connections.active} open, ${row.connections.total} total${row.connections.refused > 0 ? `, ${row.connections.refused} refused` : ''}`
      const extra = [row.reason, row.ownership, errors.length > 0 ? errors.join(', ') : undefined].filter(
        (text) => text !== undefined,
      )
      return `  ${arrow(row).padEnd(width)}  ${row.state}; ${counts}${extra.length > 0 ? `; ${extra.join('; ')}` : ''}`
    })
    const cookie =
      'failed' in torState
        ? `failed: ${torState.failed}`
        : `${torState.cookie}, copied to ${torState.copies.filter((copy) => copy.ok).length} of ${torState.copies.length} places`
    return [...lines, `  Tor control cookie: ${cookie}`]
  }
  const byReason = new Map<string, number>()
  for (const row of forwarders)
    if (row.state !== 'listening')
      byReason.set(row.reason ?? row.state, (byReason.get(row.reason ?? row.state) ?? 0) + 1)
  return [...byReason].map(([reason, count]) => `  ${count} not listening: ${reason}`)
}
