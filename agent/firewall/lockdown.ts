import { filterChains, replaceTables } from './nft-common'

/**
 * The fail-closed ruleset, loaded in one transaction when the real one cannot be built or
 * loaded. Nothing leaves the qube; on the gateway Tor's own user still may, so Tor keeps
 * its circuits (with no redirects and no openings, workstations reach nothing). Loopback
 * stays open: it never leaves the qube.
 */
export function lockdownScript(torUid: string | null): string[] {
  return [
    ...replaceTables(['inet filter', 'inet nat', 'ip6 nat']),
    'delete table inet nat',
    'delete table ip6 nat',
    ...filterChains(),
    'add rule inet filter input iifname lo counter accept',
    ...(torUid === null ? [] : ['add rule inet filter input ct state established counter accept']),
    'add rule inet filter output oifname lo counter accept',
    ...(torUid === null ? [] : [`add rule inet filter output skuid ${torUid} counter accept`]),
  ]
}
