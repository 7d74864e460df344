import { CodedError } from '../../rpc/errors'

/** The words of one reply line: bare words in order, and `KEY=VALUE` pairs (quoted values unescaped). */
export interface ReplyWords {
  readonly words: readonly string[]
  readonly keywords: ReadonlyMap<string, string>
}

const ESCAPES: Readonly<Record<string, string>> = { n: '\n', r: '\r', t: '\t' }

function protocolError(what: string): never {
  throw new CodedError('TOR_CONTROL_PROTOCOL', `Tor sent ${what}`)
}

/** Reads a control-spec QuotedString starting at `start` (the opening quote); returns its value and the index after it. */
function quoted(untrusted: string, start: number): [string, number] {
  let value = ''
  for (let index = start + 1; index < untrusted.length; index++) {
    const char = untrusted[index] as string
    if (char === '"') return [value, index + 1]
    if (char === '\\') {
      index++
      const escaped = untrusted[index]
      if (escaped === undefined) break
      value += ESCAPES[escaped] ?? escaped
    } else value += char
  }
  return protocolError(`an unterminated quoted string in ${JSON.stringify(untrusted.slice(0, 80))}`)
}

export function replyWords(untrustedLine: string): ReplyWords {
  const words: string[] = []
  const keywords = new Map<string, string>()
  let index = 0
  while (index < untrustedLine.length) {
    if (untrustedLine[index] === ' ') {
      index++
      continue
    }
    const keyMatch = /^([A-Za-z0-9_/.-]+)=/.exec(untrustedLine.slice(index))
    if (keyMatch) {
      const key = keyMatch[1] as string
      index += keyMatch[0].length
      if (untrustedLine[index] === '"') {
        const [value, next] = quoted(untrustedLine, index)
        keywords.set(key, value)
        index = next
      } else {
        const end = untrustedLine.indexOf(' ', index)
        keywords.set(key, untrustedLine.slice(index, end === -1 ? undefined : end))
        index = end === -1 ? untrustedLine.length : end
      }
      continue
    }
    const end = untrustedLine.indexOf(' ', index)
    words.push(untrustedLine.slice(index, end === -1 ? undefined : end))
    index = end === -1 ? untrustedLine.length : end
  }
  return { words, keywords }
}

/** The value of `KEY` in a GETINFO reply (`KEY=value` or a `KEY=` data block). */
export function getinfoValue(lines: readonly string[], key: string): string {
  const prefix = `${key}=`
  const line = lines.find((candidate) => candidate.startsWith(prefix))
  if (line === undefined) return protocolError(`no value for ${key} in its GETINFO reply`)
  const value = line.slice(prefix.length)
  // A multi-line value arrives as "KEY=" followed by a data block, kept as "KEY=\n...".
  return value.startsWith('\n') ? value.slice(1) : value
}
