import { CodedError } from '../../rpc/errors'

/** Our lines in tinyproxy's config, between a begin and an end line we own. */
export interface BlockSpec {
  readonly begin: string
  readonly end: string
  readonly lines: readonly string[]
}

export interface BlockEdit {
  readonly text: string
  readonly changed: boolean
  /** `Upstream` lines outside our block: tinyproxy may pick them for some hosts. */
  readonly foreignUpstreams: readonly string[]
}

const UPSTREAM_LINE = /^\s*upstream\s/i

/**
 * Puts our block into a tinyproxy config text exactly once: replaces the lines between our
 * markers, or appends the block. Applying it twice gives the same text. A config with a
 * broken block (one marker without the other, or twice) is refused, never guessed at.
 */
export function withBlock(untrustedText: string, spec: BlockSpec, where: string): BlockEdit {
  const lines = untrustedText.split('\n')
  const trailingNewline = lines.at(-1) === ''
  if (trailingNewline) lines.pop()
  const begins = lines.flatMap((line, index) => (line.trimEnd() === spec.begin ? [index] : []))
  const ends = lines.flatMap((line, index) => (line.trimEnd() === spec.end ? [index] : []))
  const block = [spec.begin, ...spec.lines, spec.end]
  let result: string[]
  if (begins.length === 0 && ends.length === 0) result = [...lines, ...block]
  else {
    const [begin] = begins
    const [end] = ends
    if (begins.length !== 1 || ends.length !== 1 || begin === undefined || end === undefined || end < begin)
      throw new CodedError(
        'TINYPROXY_BLOCK_BROKEN',
        `${where}: our block is damaged (${begins.length} begin and ${ends.length} end lines); fix or remove it by hand`,
      )
    result = [...lines.slice(0, begin), ...block, ...lines.slice(end + 1)]
  }
  const text = `${result.join('\n')}\n`
  const blockStart = result.indexOf(spec.begin)
  const outside = result.filter((_, index) => index < blockStart || index > blockStart + block.length - 1)
  return {
    text,
    changed: text !== untrustedText,
    foreignUpstreams: outside.filter((line) => UPSTREAM_LINE.test(line)).map((line) => line.trim().slice(0, 200)),
  }
}

/** Whether the text holds our block with exactly these lines. */
export function hasBlock(untrustedText: string, spec: BlockSpec): boolean {
  try {
    return !withBlock(untrustedText, spec, '').changed
  } catch {
    return false
  }
}
