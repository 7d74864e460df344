import { firewallRunner } from './runner'
import type { AgentContext } from '../context'
import type { Role } from '../role'
import { digest, listRuleset, tablesOf } from './nft'
import type { FirewallMode } from './plan'
import { failedMarked, readRecord } from './record'
import type { FirewallRole } from './variables'

/** The firewall part of `status` and whonix.Status. */
export interface FirewallStatus {
  readonly applicable: boolean
  readonly role: FirewallRole | null
  readonly mode: FirewallMode | null
  readonly loaded: 'ruleset' | 'lockdown' | 'none'
  /** Upstream's failure status file exists (a load failed this boot). */
  readonly failed: boolean
  /**
   * `none`: the loaded tables are as the agent loaded them; `changed`: someone changed them
   * since; `unknown`: they cannot be listed here (not root); `not-loaded`: nothing recorded.
   */
  readonly drift: 'none' | 'changed' | 'unknown' | 'not-loaded'
  readonly error: string | null
}

export async function firewallStatus(context: AgentContext, role: Role): Promise<FirewallStatus> {
  const applicable = role.whonix !== null
  const [record, failed] = await Promise.all([readRecord(context), failedMarked(context)])
  if (record === null)
    return { applicable, role: null, mode: null, loaded: 'none', failed, drift: 'not-loaded', error: null }
  const base = { applicable, role: record.role, mode: record.mode, loaded: record.loaded, failed, error: record.error }
  if (record.listing === null) return { ...base, drift: record.loaded === 'none' ? 'not-loaded' : 'unknown' }
  const listing = await firewallRunner(context)(listRuleset(context.manifest.firewall))
  if (listing.exitCode !== 0) return { ...base, drift: 'unknown' }
  return { ...base, drift: digest(tablesOf(listing.stdout, record.tables)) === record.listing ? 'none' : 'changed' }
}

export function formatFirewallStatus(status: FirewallStatus): string {
  if (!status.applicable) return 'not applicable (not a Whonix qube)'
  if (status.loaded === 'none' && status.role === null)
    return `not loaded by the agent${status.failed ? '; a load FAILED this boot' : ''}`
  const what =
    status.loaded === 'ruleset'
      ? `${status.role} ruleset loaded (${status.mode})`
      : status.loaded === 'lockdown'
        ? 'FAILED: fail-closed ruleset loaded'
        : 'FAILED: nothing loaded'
  const drift = {
    none: 'as loaded',
    changed: 'CHANGED since loaded',
    unknown: 'drift unknown (list as root)',
    'not-loaded': '',
  }[status.drift]
  return [what, drift, status.error === null ? '' : `error: ${status.error}`].filter(Boolean).join('; ')
}
