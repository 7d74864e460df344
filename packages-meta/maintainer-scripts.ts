// The package's own maintainer-script parts: taking files of other packages over with
// dpkg-divert (everything else, users, tmpfiles and units, comes from debhelper through
// #DEBHELPER#).

export interface Diversion {
  /** The path another package ships. */
  readonly path: string
  /** The package that ships it (qubes.yaml names it; for the record, the tests and the README). */
  readonly from: string
  /** Where dpkg-divert keeps the other package's file. */
  readonly original: string
  /** Where our own file lies when we ship this path too (the path is then a link to it); null: we only move theirs aside. */
  readonly ours: string | null
}

export function planDiversions(
  diversions: Readonly<Record<string, string>>,
  suffix: string,
  shipped: ReadonlySet<string>,
): Diversion[] {
  return Object.entries(diversions).map(([path, from]) => ({
    path,
    from,
    original: `${path}${suffix}-orig`,
    ours: shipped.has(path) ? `${path}${suffix}` : null,
  }))
}

/** One word for sh, whatever the path holds. */
export const shellQuote = (word: string): string =>
  /^[A-Za-z0-9_./:+@=-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`

// As config-package-dev's "displace": postinst diverts and links, prerm unlinks and puts
// theirs back. Paths are given as installed; $DPKG_ROOT (set by `dpkg --root`) prefixes what
// the scripts touch themselves, dpkg-divert honours it on its own. Each dpkg-divert call that
// changes something starts its line, so lintian pairs the --add with the --remove.
const PACKAGE = (pkg: string): string[] => [`package=${shellQuote(pkg)}`, '']

const TAKE_OVER = [
  '# take_over PATH OURS ORIG: divert PATH (theirs goes to ORIG) and link PATH to OURS (no link',
  '# when OURS is empty). A path that another package or the administrator diverts already stays',
  '# theirs (dpkg allows one diversion per path): one line on stderr says so.',
  'take_over() {',
  '\tholder=$(dpkg-divert --listpackage "$1")',
  '\tif [ -n "$holder" ] && [ "$holder" != "$package" ]; then',
  '\t\t[ "$holder" != LOCAL ] || holder="the administrator (a local diversion)"',
  '\t\techo "$package: not taking over $1, which $holder diverts already${2:+; ours stays at $2}" >&2',
  '\t\treturn 0',
  '\tfi',
  '\tif [ -z "$holder" ]; then',
  '\t\tdpkg-divert --package "$package" --add --rename --divert "$3" "$1" >/dev/null',
  '\tfi',
  '\t[ -n "$2" ] || return 0',
  '\tif [ ! -e "$DPKG_ROOT$1" ] && [ ! -L "$DPKG_ROOT$1" ]; then',
  '\t\tln -s "${2##*/}" "$DPKG_ROOT$1"',
  '\telif [ -f "$DPKG_ROOT$1" ] && [ ! -L "$DPKG_ROOT$1" ] && cmp -s "$DPKG_ROOT$1" "$DPKG_ROOT$2"; then',
  '\t\t# A copy of ours that an earlier version shipped at PATH itself (dpkg keeps an obsolete',
  '\t\t# conffile, and dpkg-divert does not move a file of the diverting package).',
  '\t\tln -sf "${2##*/}" "$DPKG_ROOT$1"',
  '\telif [ "$(readlink "$DPKG_ROOT$1")" != "${2##*/}" ]; then',
  '\t\techo "$package: $1 is not the link to ${2##*/} it should be; left as it is" >&2',
  '\tfi',
  '}',
]

const GIVE_BACK = [
  '# give_back PATH OURS ORIG: undo take_over, where it was ours to do. A PATH that is no longer',
  '# our link (an administrator replaced it) keeps the diversion rather than being overwritten.',
  'give_back() {',
  '\tholder=$(dpkg-divert --listpackage "$1")',
  '\t[ "$holder" = "$package" ] || return 0',
  '\tif [ -n "$2" ] && [ -L "$DPKG_ROOT$1" ] && [ "$(readlink "$DPKG_ROOT$1")" = "${2##*/}" ]; then',
  '\t\trm -f "$DPKG_ROOT$1"',
  '\tfi',
  '\tif [ -e "$DPKG_ROOT$1" ] || [ -L "$DPKG_ROOT$1" ]; then',
  '\t\techo "$package: keeping the diversion of $1: something other than our link lies there" >&2',
  '\t\treturn 0',
  '\tfi',
  '\tdpkg-divert --package "$package" --remove --rename --divert "$3" "$1" >/dev/null',
  '}',
]

const script = (body: readonly string[]): string =>
  ['#!/bin/sh', 'set -e', '', ...body, '', '#DEBHELPER#', '', 'exit 0', ''].join('\n')

export interface MaintainerScripts {
  readonly postinst: string
  readonly prerm: string
  readonly postrm: string
}

/** The installed bundle: postinst has it write V8's code cache for the node its #! names. */
export interface CodeCache {
  readonly bundle: string
}

// The cache is for the node installed now; without it (under dpkg --root, where another node
// would write it, or when writing fails) the program still starts, only slower.
const writeCodeCache = ({ bundle }: CodeCache): string[] => [
  "# V8's code cache of the bundle, for the node installed now (the program starts without it, slower).",
  'if [ "$1" = configure ] && [ -z "$DPKG_ROOT" ]; then',
  `	${shellQuote(bundle)} --write-code-cache || echo "$package: no code cache written; the agent starts slower" >&2`,
  'fi',
]

// Not a file of the package: dpkg would leave it, and the directory, behind.
const removeCodeCache = ({ bundle }: CodeCache): string[] => [
  '# The code cache postinst wrote.',
  `[ "$1" != remove ] || rm -f "$DPKG_ROOT"${shellQuote(`${bundle}.code-cache`)}`,
]

export function maintainerScripts(
  pkg: string,
  diversions: readonly Diversion[],
  codeCache?: CodeCache,
): MaintainerScripts {
  const part = (
    header: string,
    functions: readonly string[],
    name: string,
    actions: string,
    list: readonly Diversion[],
  ) => {
    if (list.length === 0) return []
    const call = (d: Diversion) =>
      `\t${name} ${shellQuote(d.path)} ${d.ours ? shellQuote(d.ours) : "''"} ${shellQuote(d.original)}`
    return [header, ...PACKAGE(pkg), ...functions, '', 'case "$1" in', `${actions})`, ...list.map(call), '\t;;', 'esac']
  }
  const backwards = [...diversions].reverse()
  const takeOver = part(
    '# Take over the files of other packages that ours replace (qubes.yaml packaging.diversions).',
    TAKE_OVER,
    'take_over',
    'configure|abort-remove|abort-deconfigure',
    diversions,
  )
  const giveBack = part(
    "# Give the other packages' files back before ours go.",
    GIVE_BACK,
    'give_back',
    'remove|deconfigure',
    backwards,
  )
  // `$package` is set by the first part, else here.
  const then = (first: string[], lines: string[]) =>
    lines.length === 0 ? first : [...first, ...(first.length > 0 ? [''] : PACKAGE(pkg)), ...lines]
  return {
    postinst: script(then(takeOver, codeCache ? writeCodeCache(codeCache) : [])),
    prerm: script(then(giveBack, codeCache ? removeCodeCache(codeCache) : [])),
    postrm: script(
      part(
        '# The same where no prerm ran (a failed install, a package that disappeared); else a no-op.',
        GIVE_BACK,
        'give_back',
        'remove|abort-install|disappear',
        backwards,
      ),
    ),
  }
}
