// The package's own maintainer-script parts: the dpkg diversions (everything else, users,
// tmpfiles and units, comes from debhelper through #DEBHELPER#).

export interface Diversion {
  /** The path another package ships. */
  readonly path: string
  /** Where dpkg-divert keeps the other package's file. */
  readonly original: string
  /** Where our own file lies when we ship this path too (the path is then a link to it); null: we only disable theirs. */
  readonly ours: string | null
}

export function planDiversions(paths: readonly string[], suffix: string, shipped: ReadonlySet<string>): Diversion[] {
  return paths.map((path) => ({ path, original: `${path}${suffix}-orig`, ours: shipped.has(path) ? `${path}${suffix}` : null }))
}

/** One word for sh, whatever the path holds. */
export const shellQuote = (word: string): string => (/^[A-Za-z0-9_./:+@=-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)

const script = (body: readonly string[]): string =>
  ['#!/bin/sh', 'set -e', '', ...body, '', '#DEBHELPER#', '', 'exit 0', ''].join('\n')

export interface MaintainerScripts {
  readonly preinst: string
  readonly postrm: string
}

export function maintainerScripts(pkg: string, diversions: readonly Diversion[]): MaintainerScripts {
  const divert = (d: Diversion, action: '--add' | '--remove') =>
    `\tdpkg-divert --package ${pkg} ${action} --rename --divert ${shellQuote(d.original)} ${shellQuote(d.path)} >/dev/null`
  const preinst = script([
    '# Move aside the files of other packages that ours replace, before ours are unpacked.',
    'case "$1" in',
    'install|upgrade)',
    ...diversions.map((d) => divert(d, '--add')),
    '\t;;',
    'esac',
  ])
  const postrm = script([
    "# Put the other packages' files back once ours are gone (also when an install failed).",
    'case "$1" in',
    'remove|abort-install|disappear)',
    ...diversions.map((d) => divert(d, '--remove')),
    '\t;;',
    'esac',
  ])
  return { preinst, postrm }
}
