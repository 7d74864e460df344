import { readFile } from 'node:fs/promises'
import { LineCounter, parseDocument, isNode, type Node } from 'yaml'
import { CodedError } from '../../rpc/errors'
import { ManifestIssue, type KeyPath } from './check'
import { manifestSchema, type Manifest } from './schema'
import shippedManifest from '../../qubes.yaml?raw'

export const SHIPPED_MANIFEST_NAME = 'qubes.yaml (built in)'
const MAX_MANIFEST_BYTES = 1024 * 1024

/** The deepest node that exists on the way to `at`, so a missing key points at its parent. */
function nearestNode(doc: ReturnType<typeof parseDocument>, at: KeyPath): Node | undefined {
  for (let depth = at.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(at.slice(0, depth), true)
    if (isNode(node)) return node
  }
  return undefined
}

/** Parses and validates manifest text; every error names the file, the line and what is wrong. */
export function parseManifest(text: string, fileName: string): Manifest {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const [syntaxError] = doc.errors
  if (syntaxError) {
    const line = lineCounter.linePos(syntaxError.pos[0]).line
    throw new CodedError('MANIFEST_INVALID', `${fileName}:${line}: ${syntaxError.message.split('\n')[0]}`, { cause: syntaxError })
  }
  try {
    return manifestSchema(doc.toJS({ maxAliasCount: 0 }), [])
  } catch (error) {
    if (!(error instanceof ManifestIssue)) throw error
    const offset = nearestNode(doc, error.at)?.range?.[0] ?? 0
    const where = error.at.length > 0 ? `${error.at.join('.')}: ` : ''
    throw new CodedError('MANIFEST_INVALID', `${fileName}:${lineCounter.linePos(offset).line}: ${where}${error.message}`)
  }
}

/** The manifest from `--config FILE`, or the one built into the program. */
export async function loadManifest(file?: string): Promise<Manifest> {
  if (file === undefined) return parseManifest(shippedManifest, SHIPPED_MANIFEST_NAME)
  let text: string
  try {
    const buffer = await readFile(file)
    if (buffer.length > MAX_MANIFEST_BYTES) throw new Error(`larger than ${MAX_MANIFEST_BYTES} bytes`)
    text = buffer.toString('utf8')
  } catch (error) {
    throw new CodedError('MANIFEST_UNREADABLE', `cannot read manifest ${file}: ${(error as Error).message}`, { cause: error })
  }
  return parseManifest(text, file)
}
