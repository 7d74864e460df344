import type { DaemonStatus } from './status'

/** One line for `status`: whether the daemon runs and what it serves. */
export function daemonSummary(daemon: DaemonStatus): string {
  if (!daemon.running) return `not running: ${daemon.reason}`
  if (daemon.busy) return `running, busy: ${daemon.reason}`
  const failed = Object.entries(daemon.parts)
    .filter(([, part]) => part.state === 'failed')
    .map(([name]) => name)
  const services = daemon.services.length > 0 ? daemon.services.join(', ') : 'no services'
  return `running (pid ${daemon.pid}, since ${daemon.since}): ${services}${failed.length > 0 ? `; parts failed: ${failed.join(', ')}` : ''}`
}
