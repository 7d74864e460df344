// Reads yargs' --help output of the bundle into entries, so the man page says exactly what
// the shipped program says, re-flowed by man instead of yargs' fixed 100 columns.

export interface HelpEntry {
  /** The option or positional as yargs prints it (`-v, --verbose`, `action`). */
  readonly name: string
  readonly text: string
}

// Entries start near the left edge; their wrapped lines are indented to the text column.
const MAX_ENTRY_INDENT = 8

/** The entries of each titled block (`Options:`, `Positionals:`, `Commands:`). */
export function helpSections(help: string): Map<string, HelpEntry[]> {
  const sections = new Map<string, HelpEntry[]>()
  let current: { name: string; text: string }[] | null = null
  for (const line of help.replace(/\r/g, '').split('\n')) {
    const title = /^([A-Z][A-Za-z ]*):$/.exec(line)
    if (title) {
      current = []
      sections.set(title[1]!, current)
      continue
    }
    if (current === null) continue
    if (line.trim() === '') {
      current = null
      continue
    }
    const indent = line.length - line.trimStart().length
    if (indent <= MAX_ENTRY_INDENT) {
      const [name, ...rest] = line.trim().split(/\s{2,}/)
      current.push({ name: name!, text: rest.join(' ') })
    } else if (current.length > 0) {
      const last = current[current.length - 1]!
      last.text = `${last.text} ${line.trim().replace(/\s{2,}/g, ' ')}`.trim()
    }
  }
  return sections
}

/** The lines of yargs' description paragraph: after the usage line, before the first block. */
export function helpDescription(help: string): string {
  const paragraphs = help.replace(/\r/g, '').split(/\n\s*\n/)
  const text = paragraphs[1] ?? ''
  return /^[A-Z][A-Za-z ]*:\n/.test(text) ? '' : text.replace(/\s*\n\s*/g, ' ').trim()
}
