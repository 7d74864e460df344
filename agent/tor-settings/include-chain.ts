import { constants, type Stats } from 'node:fs'
import { lstat, open, readdir, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** Tor's own nesting limit for %include. */
const MAX_DEPTH = 31
const MAX_FILES = 256
const MAX_BYTES = 1024 * 1024
const INCLUDE_LINE = /^[ \t]*%include[ \t]+(\S+)[ \t]*(?:#.*)?$/
// Paths Tor reads unquoted and unescaped, so that a %include line we write names exactly them.
const PLAIN_PATTERN = /^\/[A-Za-z0-9._+,@=:/*?-]*$/
const GLOB = /[*?]/
const COMMENT = /^[ \t]*#/
const CANDIDATE = 'candidate.conf'

/** The chain uses a form whose expansion is not reproduced here: the caller verifies another way. */
export class UnsupportedChain extends Error {}

/**
 * Tor's whole configuration rewritten so that every file on the way from the torrc (or the
 * defaults) to ours is a copy whose `%include` lines leading to ours list, in Tor's order,
 * each file they expand to, ours being `candidate`. Other files are named by their real path.
 */
export interface RewrittenChain {
  readonly defaults: string
  readonly torrc: string
  /** Where the new content of ours is to be written. */
  readonly candidate: string
  /** Name in the scratch directory -> content, to be written as latin1 (the bytes read). */
  readonly files: ReadonlyMap<string, string>
}

interface Included {
  readonly path: string
  readonly node: Visited | 'ours'
}
type Line = string | { readonly original: string; readonly included: readonly Included[] }
interface Visited {
  readonly path: string
  readonly lines: readonly Line[]
  readonly reaches: boolean
}

const unsupported = (why: string): never => {
  throw new UnsupportedChain(why)
}
const sameInode = (a: Stats, b: Stats) => a.dev === b.dev && a.ino === b.ino
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b))

/**
 * A file read without blocking on a FIFO or a device, regular and bounded; as latin1, one
 * character per byte, so that a copy written back the same way holds the very same bytes.
 */
async function readConfig(path: string): Promise<string> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK).catch(() =>
    unsupported(`cannot open ${path}`),
  )
  try {
    const info = await handle.stat()
    if (!info.isFile() || info.size > MAX_BYTES)
      unsupported(`${path} is not a regular file of at most ${MAX_BYTES} bytes`)
    return await handle.readFile('latin1')
  } finally {
    await handle.close()
  }
}

class Walk {
  private visits = 0
  private readonly oursDirectories = new Map<string, Promise<boolean>>()
  constructor(
    private readonly ours: string,
    private readonly oursDirectory: Stats,
  ) {}

  /** Ours, named as `directory/name` (links are refused before: a name is an identity). */
  private async isOurs(directory: string, name: string): Promise<boolean> {
    if (name !== basename(this.ours)) return false
    let known = this.oursDirectories.get(directory)
    if (known === undefined) {
      known = stat(directory).then(
        (info) => sameInode(info, this.oursDirectory),
        () => false,
      )
      this.oursDirectories.set(directory, known)
    }
    return known
  }

  /** Tor's listing of a directory: names not starting with a dot, sorted bytewise, regular non-empty files (ours among them). */
  private async listDirectory(directory: string): Promise<string[]> {
    const names = await readdir(directory)
    const oursHere = await this.isOurs(directory, basename(this.ours))
    if (oursHere && !names.includes(basename(this.ours))) names.push(basename(this.ours))
    const paths = names
      .filter((entry) => !entry.startsWith('.'))
      .sort(byBytes)
      .map((name) => join(directory, name))
    const kinds = await Promise.all(
      paths.map((path) =>
        oursHere && basename(path) === basename(this.ours) ? Promise.resolve('file') : this.status(path),
      ),
    )
    return paths.filter((_, index) => kinds[index] === 'file')
  }

  /** Tor's file_status, refusing links (an alias of ours could hide behind one). */
  private async status(path: string): Promise<'file' | 'empty' | 'directory'> {
    const entry = await lstat(path).catch(() => unsupported(`${path} does not exist`))
    if (entry.isSymbolicLink()) {
      const target = await stat(path).catch(() => unsupported(`${path} is a dangling link`))
      if (!target.isDirectory()) unsupported(`${path} is a link to a file`)
      return 'directory'
    }
    if (entry.isDirectory()) return 'directory'
    if (!entry.isFile()) unsupported(`${path} is neither a file nor a directory`)
    return entry.size === 0 ? 'empty' : 'file'
  }

  /** What Tor's glob gives for a pattern whose wildcards are all in its last component. */
  private async glob(pattern: string): Promise<string[]> {
    const directoryOnly = pattern.endsWith('/')
    const trimmed = directoryOnly ? pattern.replace(/\/+$/, '') : pattern
    const directory = dirname(trimmed)
    const last = basename(trimmed)
    if (GLOB.test(directory) || last.startsWith('.')) unsupported(`the pattern ${pattern} is not one reproduced here`)
    if ((await this.status(directory)) !== 'directory') unsupported(`${directory} is not a directory`)
    const matcher = new RegExp(
      `^${last
        .replace(/[.+,@=:-]/g, '\\$&')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')}$`,
    )
    const names = await readdir(directory)
    if ((await this.isOurs(directory, basename(this.ours))) && !names.includes(basename(this.ours)))
      names.push(basename(this.ours))
    const matches: string[] = []
    for (const name of names.filter((entry) => !entry.startsWith('.') && matcher.test(entry)).sort(byBytes)) {
      const path = join(directory, name)
      if (!directoryOnly || (await this.status(path)) === 'directory') matches.push(path)
    }
    return matches
  }

  /** The files an `%include` of this pattern reads, in Tor's order. */
  private async expand(pattern: string): Promise<string[]> {
    if (!PLAIN_PATTERN.test(pattern)) unsupported(`%include ${pattern} is not a plain absolute path`)
    const paths = GLOB.test(pattern) ? await this.glob(pattern) : [pattern.replace(/\/+$/, '') || '/']
    const files: string[] = []
    for (const path of paths) {
      if (await this.isOurs(dirname(path), basename(path))) files.push(path)
      else {
        const kind = await this.status(path)
        if (kind === 'file') files.push(path)
        else if (kind === 'directory') files.push(...(await this.listDirectory(path)))
      }
    }
    return files
  }

  async visit(path: string, depth: number): Promise<Visited> {
    if (depth > MAX_DEPTH || ++this.visits > MAX_FILES)
      unsupported('the configuration nests too deep or holds too many files')
    const text = await readConfig(path)
    if (/\\\r?\n/.test(text)) unsupported(`${path} continues a line with a backslash`)
    const lines: Line[] = []
    let reaches = false
    for (const original of text.split('\n')) {
      // Comments are Tor's too; any other mention of %include, in any case, must be a line we reproduce.
      if (COMMENT.test(original) || !/%include/i.test(original)) {
        lines.push(original)
        continue
      }
      const pattern = INCLUDE_LINE.exec(original)?.[1] ?? unsupported(`${path}: a %include line not reproduced here`)
      const included: Included[] = []
      for (const file of await this.expand(pattern)) {
        const node = (await this.isOurs(dirname(file), basename(file))) ? 'ours' : await this.visit(file, depth + 1)
        reaches ||= node === 'ours' || node.reaches
        included.push({ path: file, node })
      }
      lines.push({ original, included })
    }
    return { path, lines, reaches }
  }
}

/** The path Tor is to read for this file: itself, or a rewritten copy in the scratch directory. */
function render(visited: Visited, scratch: string, files: Map<string, string>): string {
  if (!visited.reaches) return visited.path
  const name = `chain-${files.size}.conf`
  files.set(name, '')
  const lines = visited.lines.map((line) => {
    if (typeof line === 'string') return line
    if (!line.included.some(({ node }) => node === 'ours' || node.reaches)) return line.original
    return line.included
      .map(({ node }) => `%include ${node === 'ours' ? join(scratch, CANDIDATE) : render(node, scratch, files)}`)
      .join('\n')
  })
  files.set(name, lines.join('\n'))
  return join(scratch, name)
}

/**
 * Reproduces Tor's `%include` expansion (files as they are, directories listed without dot
 * files in bytewise order, globs with `*` and `?` in the last component) from the defaults
 * and the torrc down to ours. Anything else (quotes, escapes, links to files, relative
 * paths, a chain that never reaches ours) throws UnsupportedChain.
 */
export async function rewriteChain(
  defaults: string,
  torrc: string,
  ours: string,
  scratch: string,
): Promise<RewrittenChain> {
  const oursDirectory = await stat(dirname(ours)).catch(() => unsupported(`${dirname(ours)} does not exist`))
  const oursEntry = await lstat(ours).catch(() => null)
  if (oursEntry !== null && !oursEntry.isFile()) unsupported(`${ours} is not a regular file`)
  const walk = new Walk(ours, oursDirectory)
  const roots = await Promise.all([walk.visit(defaults, 0), walk.visit(torrc, 0)])
  if (!roots.some((root) => root.reaches)) unsupported(`${ours} is not read by Tor's configuration`)
  const files = new Map<string, string>()
  const [defaultsPath, torrcPath] = roots.map((root) => render(root, scratch, files)) as [string, string]
  return { defaults: defaultsPath, torrc: torrcPath, candidate: join(scratch, CANDIDATE), files }
}
