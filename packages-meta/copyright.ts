// debian/copyright (machine-readable, DEP-5): the project, then every npm package the
// bundle carries (found by the build in esbuild's metafile, so a new dependency appears by itself).

export interface Bundled {
  /** Where it lies in the source tree (npm may nest several copies). */
  readonly dirs: readonly string[]
  readonly name: string
  readonly version: string
  /** The package's SPDX licence expression (package.json). */
  readonly license: string
  /** Copyright lines from its licence file, or its author. */
  readonly copyright: readonly string[]
  /** Its licence file as shipped (the full text, for licences Debian does not carry). */
  readonly licenseText: string
}

export interface CopyrightInput {
  readonly source: string
  readonly project: { readonly copyright: string; readonly license: string }
  readonly bundlePath: string
  readonly bundled: readonly Bundled[]
}

interface LicenseInfo {
  /** The DEP-5 short name. */
  readonly name: string
  /** A licence text Debian ships in /usr/share/common-licenses. */
  readonly common?: string
}

// SPDX names npm uses, as DEP-5 spells them. An unknown one stops the build: someone must look.
const LICENSES: Readonly<Record<string, LicenseInfo>> = {
  MIT: { name: 'Expat' },
  ISC: { name: 'ISC' },
  'Apache-2.0': { name: 'Apache-2.0', common: 'Apache-2.0' },
  'AGPL-3.0-or-later': { name: 'AGPL-3+' },
  'BlueOak-1.0.0': { name: 'BlueOak-1.0.0' },
}

// Older package.json spellings.
const ALIASES: Readonly<Record<string, string>> = { 'MIT/X11': 'MIT', Apache2: 'Apache-2.0', 'Apache 2': 'Apache-2.0' }

/** Each licence of an SPDX expression of alternatives (`MIT`, `(MIT OR Apache-2.0)`). */
export function licensesOf(spdx: string): LicenseInfo[] {
  return spdx
    .replace(/^\((.*)\)$/, '$1')
    .split(/\s+OR\s+/)
    .map((part) => {
      const info = LICENSES[ALIASES[part.trim()] ?? part.trim()]
      if (!info)
        throw new Error(
          `no DEP-5 mapping for the licence ${JSON.stringify(part)}: add it to packages-meta/copyright.ts`,
        )
      return info
    })
}

export const licenseOf = (spdx: string): LicenseInfo => {
  const [only, ...more] = licensesOf(spdx)
  if (!only || more.length > 0) throw new Error(`expected one licence, found ${spdx}`)
  return only
}

// For packages whose package.json names no licence: the licence file says which it is.
const FINGERPRINTS: readonly [RegExp, string][] = [
  [/Apache License\s+Version 2\.0/, 'Apache-2.0'],
  [/Permission is hereby granted, free of charge/, 'MIT'],
  [/Permission to use, copy, modify, and\/?or distribute/, 'ISC'],
  [/Blue Oak Model License/, 'BlueOak-1.0.0'],
]

export function identifyLicense(text: string): string {
  const found = FINGERPRINTS.find(([pattern]) => pattern.test(text))
  if (!found) throw new Error('the licence file matches no licence this build knows')
  return found[1]
}

const AGPL_NOTICE = [
  'This program is free software: you can redistribute it and/or modify it under the terms',
  'of the GNU Affero General Public License as published by the Free Software Foundation,',
  'either version 3 of the License, or (at your option) any later version.',
  '',
  'This program is distributed in the hope that it will be useful, but WITHOUT ANY',
  'WARRANTY; without even the implied warranty of MERCHANTABILITY or FITNESS FOR A',
  'PARTICULAR PURPOSE. See the GNU Affero General Public License for more details.',
  '',
  'The full text of the licence: https://www.gnu.org/licenses/agpl-3.0.txt',
]

/** A licence file's text without its title and copyright lines (they go to Copyright:). */
export function licenseBody(text: string): string[] {
  const lines = text.replace(/\r\n/g, '\n').trimEnd().split('\n')
  const kept = lines.filter((line) => !/^\s*(copyright\b|\(c\))/i.test(line))
  while (kept.length > 0 && (kept[0]!.trim() === '' || /^\s*(the )?(MIT|ISC) license\s*(\(MIT\))?\s*$/i.test(kept[0]!)))
    kept.shift()
  return kept.map((line) => line.trimEnd())
}

/** Lines of a field value in control syntax: continuation lines indented, empty ones as ` .`. */
const fieldLines = (lines: readonly string[]) => lines.map((line) => (line === '' ? ' .' : ` ${line}`))

function licenseParagraph(name: string, body: readonly string[]): string {
  return [`License: ${name}`, ...fieldLines(body)].join('\n')
}

export function copyrightLines(text: string, author?: string): string[] {
  const found = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^copyright\b/i.test(line))
    .map((line) => line.replace(/^copyright\s*(\(c\)|©)?\s*/i, '').trim())
    .filter((line) => line !== '')
  if (found.length > 0) return [...new Set(found)]
  if (author) return [author]
  throw new Error('no copyright line found and no author given')
}

export function renderCopyright(input: CopyrightInput): string {
  const project = licenseOf(input.project.license)
  const paragraphs = [
    [
      'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
      `Upstream-Name: ${input.source}`,
    ].join('\n'),
    ['Files: *', `Copyright: ${input.project.copyright}`, `License: ${project.name}`].join('\n'),
  ]
  if (project.name !== 'AGPL-3+')
    throw new Error(`the project's licence text for ${project.name} is missing in packages-meta/copyright.ts`)
  const texts = new Map<string, readonly string[]>([[project.name, AGPL_NOTICE]])
  for (const pkg of [...input.bundled].sort(
    (a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version),
  )) {
    const licenses = licensesOf(pkg.license)
    paragraphs.push(
      [
        `Files: ${pkg.dirs.map((dir) => `${dir}/*`).join('\n       ')}`,
        `Copyright: ${pkg.copyright.join('\n           ')}`,
        `License: ${licenses.map((license) => license.name).join(' or ')}`,
        `Comment: ${pkg.name} ${pkg.version}, bundled into ${input.bundlePath.replace(/^\//, '')}`,
      ].join('\n'),
    )
    for (const license of licenses) {
      if (texts.has(license.name)) continue
      if (license.common)
        texts.set(license.name, [
          `On Debian systems the full text of this licence is in /usr/share/common-licenses/${license.common}.`,
        ])
      // A dual-licensed package's file may name both licences without either text: take the text from another.
      else if (licenses.length === 1) texts.set(license.name, licenseBody(pkg.licenseText))
    }
  }
  for (const pkg of input.bundled)
    for (const license of licensesOf(pkg.license))
      if (!texts.has(license.name)) throw new Error(`no text for the licence ${license.name} (${pkg.name})`)
  for (const [name, body] of texts) paragraphs.push(licenseParagraph(name, body))
  return `${paragraphs.join('\n\n')}\n`
}
