/**
 * Qubes' rule for protected files, as its scripts apply it (`grep -Fxrq` over the list
 * directories, backup endings excluded): a path is protected when it is, byte for byte,
 * a whole line of a list file. No globs, no trimming: `/etc/hosts ` (a trailing space)
 * or `/etc/hosts\r` protects nothing, and `/etc/hosts.bak` does not protect `/etc/hosts`.
 */
export interface ListFile {
  /** The list file's system path (not re-rooted), for reports. */
  readonly path: string
  /** Its lines, as bytes (latin1) so no decoding can create a match. */
  readonly lines: ReadonlySet<string>
}

// Lines end at "\n", and at NUL too: GNU grep reads a file holding a NUL as binary data
// and ends lines there, so `/etc/hostname\0...` protects /etc/hostname for Qubes.
export function parseListFile(path: string, content: Buffer): ListFile {
  return { path, lines: new Set(content.toString('latin1').split(/[\n\0]/)) }
}

/** The list files that protect `path` (empty: not protected), in the order given. */
export function listedIn(path: string, lists: readonly ListFile[]): string[] {
  const line = Buffer.from(path).toString('latin1')
  return lists.filter((list) => list.lines.has(line)).map((list) => list.path)
}

/** Whether Qubes skips this file name when reading a list directory (a backup file). */
export function isIgnoredListFile(name: string, ignoredEndings: readonly string[]): boolean {
  return ignoredEndings.some((ending) => name.endsWith(ending))
}

/** Every path Whonix protects: each file, then each with every variant suffix. */
export function protectedPaths(
  files: readonly string[],
  variantSuffixes: readonly string[],
): { path: string; base: string }[] {
  return files.flatMap((base) => [
    { path: base, base },
    ...variantSuffixes.map((suffix) => ({ path: `${base}${suffix}`, base })),
  ])
}
