/**
 * Several qubesdb keys in one `qubesdb-read -f KEY...` run: Qubes' qubesdb-read reads each
 * key in turn, prints `KEY = VALUE` for each it has (`-f`: the full path first; bytes outside
 * printable ASCII printed as \xNN, so a value never holds a line break), says "Failed to read
 * KEY" on stderr for each it has not, and exits 1 when any was missing.
 */
export function qubesdbReadManyArgs(keys: readonly string[]): string[] {
  return ['-f', ...keys]
}

/**
 * The value of each key that has a line in `untrustedOutput`, in the order asked; null when
 * the output is not one line per present key in that order (a reader that prints otherwise
 * is asked key by key instead). A key with no line is missing.
 */
export function parseQubesdbReadMany(keys: readonly string[], untrustedOutput: string): Map<string, string> | null {
  const values = new Map<string, string>()
  if (untrustedOutput === '') return values
  if (!untrustedOutput.endsWith('\n')) return null
  let next = 0
  for (const untrustedLine of untrustedOutput.slice(0, -1).split('\n')) {
    // Keys hold no spaces, so "KEY = " starts the line of KEY and of no other key.
    while (next < keys.length && !untrustedLine.startsWith(`${keys[next]} = `)) next++
    if (next === keys.length) return null
    values.set(keys[next]!, untrustedLine.slice(keys[next]!.length + 3))
    next++
  }
  return values
}
