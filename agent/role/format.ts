import type { Role } from './detect'

const yesNo = (value: boolean) => (value ? 'yes' : 'no')
/** Label-value lines, the values in one column (also the start of `status`, agent/format.ts). */
export const rows = (entries: readonly (readonly [string, string])[]) => {
  const width = Math.max(...entries.map(([label]) => label.length)) + 2
  return entries.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`)
}

export function roleRows(role: Role): [string, string][] {
  return [
    ['Qubes qube', yesNo(role.qubes)],
    ['Whonix', role.whonix ?? 'none'],
    ['Class', role.class ?? 'unknown'],
    ['Provides network', yesNo(role.providesNetwork)],
    ['Persistence', role.persistence ?? 'unknown'],
    ['Name', role.name ?? 'unknown'],
    ['Qubes services', role.services.length > 0 ? role.services.join(', ') : 'none'],
  ]
}

export function roleDetails(role: Role, verbose: boolean): string[] {
  const lines: string[] = []
  if (verbose) {
    lines.push('Evidence:')
    for (const [field, items] of Object.entries(role.evidence))
      for (const item of items) lines.push(`  ${field}: ${item}`)
  }
  for (const warning of role.warnings) lines.push(`warning: ${warning}`)
  return lines
}

/** The human-readable `role`; `--json` prints the object itself. */
export function formatRole(role: Role, verbose = false): string {
  return [...rows(roleRows(role)), ...roleDetails(role, verbose)].join('\n')
}
