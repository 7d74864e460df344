import { randomBytes } from 'node:crypto'
import { lstat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { errnoCode, errorMessage } from '../../rpc/errors'
import type { StackedTorSection } from '../stacked-tor/manifest'
import type { Ownership } from '../stacked-tor/owners'
import { writeFileAtomic } from '../fs/atomic-write'
import { readFileThrough } from '../fs/resolve'

/** What `status` says about the emulated Tor state files. */
export interface TorStateStatus {
  /** `generated` this start, `kept` from an earlier one, or `failed`. */
  readonly cookie: 'generated' | 'kept' | 'failed'
  readonly source: string
  readonly copies: readonly { readonly path: string; readonly ok: boolean; readonly problem?: string }[]
}

/** The installation's cookie if it is a regular file of the right size; null otherwise (and why). */
async function readCookie(path: string, size: number): Promise<{ bytes: Buffer } | { why: string }> {
  try {
    const found = await lstat(path)
    if (!found.isFile()) return { why: `${path} is not a regular file` }
    if (found.size !== size) return { why: `${path} has ${found.size} bytes, not ${size}` }
    const read = await readFileThrough(path, { maxBytes: size })
    return read?.content.length === size ? { bytes: read.content } : { why: `${path} changed while read` }
  } catch (error) {
    return { why: errnoCode(error) === 'ENOENT' ? `${path} does not exist yet` : errorMessage(error) }
  }
}

export interface TorStateOptions {
  readonly section: StackedTorSection
  /** Re-roots a system path. */
  readonly under: (systemPath: string) => string
  readonly ownership: Ownership
  readonly log: { info(message: string): void; warning(message: string): void }
  /** Directories (system paths) found unusable, and why: no copy is written there. */
  readonly skip?: ReadonlyMap<string, string>
}

/**
 * Tor's control cookie, emulated (docs/stacked-tor.md): random bytes made once per installation and
 * kept in `torState.source` (root only), then copied to where Tor clients read it
 * (mode torState.mode, group stackedTor.group). Directories of the copies must exist.
 */
export async function ensureTorState(options: TorStateOptions): Promise<TorStateStatus> {
  const { torState } = options.section
  const source = options.under(torState.source)
  let cookie: Buffer
  let state: TorStateStatus['cookie'] = 'kept'
  const found = await readCookie(source, torState.cookieBytes)
  if ('bytes' in found) cookie = found.bytes
  else {
    cookie = randomBytes(torState.cookieBytes)
    try {
      await writeFileAtomic(source, cookie, { mode: 0o600, directoryMode: 0o700, replaceLink: true })
      state = 'generated'
      options.log.info(`generated a new Tor control cookie at ${torState.source} (${found.why})`)
    } catch (error) {
      // The copies still get this start's cookie; the next start tries to keep one again.
      state = 'failed'
      options.log.warning(`cannot keep the Tor control cookie at ${torState.source}: ${errorMessage(error)}`)
    }
  }
  const owner = 'error' in options.ownership ? null : options.ownership
  const copies = await Promise.all(
    torState.copies.map(async (path) => {
      const unusable = options.skip?.get(dirname(path))
      if (unusable !== undefined) return { path, ok: false, problem: unusable }
      try {
        const written = await writeFileAtomic(options.under(path), cookie, {
          mode: torState.mode,
          replaceLink: true,
          ...(owner === null ? {} : { owner }),
        })
        const why = written.ownerProblem ?? ('error' in options.ownership ? options.ownership.error : null)
        return why === null ? { path, ok: true } : { path, ok: true, problem: why }
      } catch (error) {
        options.log.warning(`cannot write ${path}: ${errorMessage(error)}`)
        return { path, ok: false, problem: errorMessage(error) }
      }
    }),
  )
  return { cookie: state, source: torState.source, copies }
}
