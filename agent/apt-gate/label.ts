import { readFile } from 'node:fs/promises'

const SHELLS = new Set(['sh', 'dash', 'bash'])
const MAX_STAT_BYTES = 4096

/** What the APT hook names in the refusal line: the front end that updates (pure). */
export function updateLabel(ancestors: readonly string[], hookScript = ''): string {
  // The hook script runs the agent (it answers when the agent cannot): it is no front end either.
  const frontEnd = ancestors.find((name) => !SHELLS.has(name) && name !== hookScript.slice(0, 15))
  return frontEnd === undefined ? 'apt update' : `${frontEnd} update`
}

/** Parses /proc/PID/stat: the command name (any bytes, in parentheses) and the parent's id. */
export function parseStat(untrustedStat: string): { name: string; parent: number } | null {
  const open = untrustedStat.indexOf('(')
  const close = untrustedStat.lastIndexOf(')')
  if (open < 0 || close < open) return null
  const parent = Number(untrustedStat.slice(close + 2).split(' ')[1])
  // A process names itself: keep printable characters only.
  const name = untrustedStat
    .slice(open + 1, close)
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, 16)
  return Number.isInteger(parent) && parent >= 0 ? { name, parent } : null
}

/** The names of the first few ancestors of `pid` (itself included), nearest first. */
export async function ancestorNames(pid: number, depth = 4): Promise<string[]> {
  const names: string[] = []
  for (let current = pid; names.length < depth && current > 1;) {
    let stat: string
    try {
      stat = (await readFile(`/proc/${current}/stat`, 'utf8')).slice(0, MAX_STAT_BYTES)
    } catch {
      break
    }
    const parsed = parseStat(stat)
    if (parsed === null) break
    names.push(parsed.name)
    current = parsed.parent
  }
  return names
}
