// debian/changelog: one entry for the version being built (the project has no Debian history).

export interface ChangelogEntry {
  readonly source: string
  readonly version: string
  readonly maintainer: string
  readonly changes: readonly string[]
  /** Seconds since the epoch: the commit's time, so the same tree builds the same package. */
  readonly time: number
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const two = (n: number) => String(n).padStart(2, '0')

/** RFC 5322 date in UTC, as dpkg-parsechangelog expects it. */
export function changelogDate(seconds: number): string {
  const d = new Date(seconds * 1000)
  const time = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`
  return `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${time} +0000`
}

export function renderChangelog(entry: ChangelogEntry): string {
  const changes = entry.changes.map((line) => `  * ${line}`).join('\n')
  return `${entry.source} (${entry.version}) unstable; urgency=medium\n\n${changes}\n\n -- ${entry.maintainer}  ${changelogDate(entry.time)}\n`
}
