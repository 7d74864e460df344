import type { BinaryPackage } from './packages'

// debian/control: one source paragraph, then one paragraph per binary package.

export interface SourceParagraph {
  readonly name: string
  readonly maintainer: string
  readonly section: string
}

// Lines of the long description stay within 80 columns with their leading space.
const WIDTH = 79

/** Words of a paragraph, filled into lines of at most `width` characters. */
export function fill(paragraph: string, width = WIDTH): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of paragraph.split(/\s+/).filter(Boolean)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else line = line === '' ? word : `${line} ${word}`
  }
  if (line !== '') lines.push(line)
  return lines
}

/** A description in control syntax: the synopsis, then the paragraphs filled, ` .` between them. */
export function descriptionField(synopsis: string, paragraphs: readonly string[]): string {
  if (synopsis.length > WIDTH) throw new Error(`synopsis longer than ${WIDTH} characters: ${synopsis}`)
  const body = paragraphs.flatMap((paragraph, index) => [
    ...(index > 0 ? [' .'] : []),
    ...fill(paragraph).map((line) => ` ${line}`),
  ])
  return [`Description: ${synopsis}`, ...body].join('\n')
}

export function renderControl(source: SourceParagraph, packages: readonly BinaryPackage[]): string {
  const head = [
    `Source: ${source.name}`,
    `Section: ${source.section}`,
    'Priority: optional',
    `Maintainer: ${source.maintainer}`,
    'Build-Depends: debhelper-compat (= 13)',
    'Standards-Version: 4.6.2',
    // The build runs as a normal user: dpkg-deb records root ownership itself.
    'Rules-Requires-Root: no',
  ].join('\n')
  const binaries = packages.map((pkg) =>
    [
      `Package: ${pkg.name}`,
      'Architecture: all',
      `Section: ${pkg.section}`,
      `Depends: ${['${misc:Depends}', ...pkg.depends].join(',\n         ')}`,
      descriptionField(pkg.synopsis, pkg.description),
    ].join('\n'),
  )
  return `${[head, ...binaries].join('\n\n')}\n`
}

/** package.json's `engines.node` (`>=18.13`) as a Debian relation on Debian's nodejs. */
export function nodejsRelation(engines: string): string {
  const match = /^>=\s*(\d+(?:\.\d+)*)$/.exec(engines.trim())
  if (!match) throw new Error(`engines.node ${JSON.stringify(engines)}: expected ">=VERSION"`)
  return `nodejs (>= ${match[1]})`
}
