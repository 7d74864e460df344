import { readBounded } from '../fs/read-bounded'
import shippedJson from 'virtual:shipped-manifest'
import { CodedError } from '../../rpc/errors'
import { ManifestIssue, type Checker } from './check'

export const SHIPPED_MANIFEST_NAME = 'qubes.yaml (built in)'
const MAX_MANIFEST_BYTES = 1024 * 1024

// The checker is the whole manifest's, composed in agent/features.ts (which binds these to it).

/**
 * A manifest written as JSON (YAML's subset: the same data) is read without the YAML parser,
 * which costs a long-lived daemon about 11 MiB. Anything else, or JSON with a mistake in it,
 * is left to the YAML parser, which then reports it with its line.
 */
function parsedAsJson<T>(schema: Checker<T>, text: string): T | undefined {
  if (!text.trimStart().startsWith('{')) return undefined
  try {
    return schema(JSON.parse(text) as unknown, [])
  } catch {
    return undefined
  }
}

/** Parses and validates manifest text; every error names the file, the line and what is wrong. */
export async function parseManifestWith<T>(schema: Checker<T>, text: string, fileName: string): Promise<T> {
  const fromJson = parsedAsJson(schema, text)
  if (fromJson !== undefined) return fromJson
  // The YAML parser is loaded only for a manifest given with --config (the shipped one is pre-parsed).
  const { LineCounter, parseDocument, isNode } = await import('yaml')
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const [syntaxError] = doc.errors
  if (syntaxError) {
    const line = lineCounter.linePos(syntaxError.pos[0]).line
    throw new CodedError('MANIFEST_INVALID', `${fileName}:${line}: ${syntaxError.message.split('\n')[0]}`, {
      cause: syntaxError,
    })
  }
  let untrusted: unknown
  try {
    untrusted = doc.toJS({ maxAliasCount: 0 })
  } catch (error) {
    throw new CodedError(
      'MANIFEST_INVALID',
      `${fileName}: ${(error as Error).message} (YAML aliases are not allowed)`,
      { cause: error },
    )
  }
  try {
    return schema(untrusted, [])
  } catch (error) {
    if (!(error instanceof ManifestIssue)) throw error
    // The deepest node that exists on the way, so a missing key points at its parent.
    let offset = 0
    for (let depth = error.at.length; depth >= 0; depth--) {
      const node = depth === 0 ? doc.contents : doc.getIn(error.at.slice(0, depth), true)
      if (isNode(node) && node.range) {
        offset = node.range[0]
        break
      }
    }
    throw new CodedError('MANIFEST_INVALID', `${fileName}:${lineCounter.linePos(offset).line}: ${describeIssue(error)}`)
  }
}

const describeIssue = (issue: ManifestIssue) =>
  issue.at.length > 0 ? `${issue.at.join('.')}: ${issue.message}` : issue.message

/** The manifest built into the program (qubes.yaml, parsed and checked against the schema at build time). */
export function shippedManifestCopy<T>(): T {
  // A copy of its own for each caller, as the check used to give (parsing is faster than a clone).
  return JSON.parse(shippedJson) as T
}

/** The manifest from `--config FILE`, or the one built into the program. */
export async function readManifest<T>(schema: Checker<T>, file?: string): Promise<T> {
  if (file === undefined) return shippedManifestCopy<T>()
  let text: string
  try {
    text = (await readBounded(file, MAX_MANIFEST_BYTES)).toString('utf8')
  } catch (error) {
    throw new CodedError('MANIFEST_UNREADABLE', `cannot read manifest ${file}: ${(error as Error).message}`, {
      cause: error,
    })
  }
  return parseManifestWith(schema, text, file)
}
