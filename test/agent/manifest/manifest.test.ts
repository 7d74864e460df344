import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { loadManifest, parseManifest, shippedManifest } from '../../../agent/features'
import { runAgent } from '../../helpers/cli'
import { tempRoot } from '../../helpers/sandbox'

const shippedText = await readFile(new URL('../../../qubes.yaml', import.meta.url), 'utf8')

/** The shipped manifest with one line replaced; returns the text and that line's number. */
function withLine(find: string, replace: string): { text: string; line: number } {
  const lines = shippedText.split('\n')
  const index = lines.findIndex((line) => line.includes(find))
  if (index < 0) throw new Error(`no line with ${find}`)
  lines[index] = lines[index]!.replace(find, replace)
  return { text: lines.join('\n'), line: index + 1 }
}

describe('the manifest', () => {
  it('ships valid, and the pre-parsed copy equals the YAML file', async () => {
    const fromYaml = await parseManifest(shippedText, 'qubes.yaml')
    expect(shippedManifest()).toEqual(fromYaml)
    expect(fromYaml.paths.runQubes).toBe('/run/qubes')
  })

  it.each([
    [
      'a relative path',
      'runQubes: /run/qubes',
      'runQubes: run/qubes',
      'paths.runQubes: "run/qubes" is not an absolute path',
    ],
    ['a path with ..', 'runQubes: /run/qubes', 'runQubes: /run/../etc', 'is not a normalised path'],
    ['an unknown key', 'runQubes: /run/qubes', 'runQubs: /run/qubes', 'paths.runQubs: unknown key "runQubs"'],
    ['a timeout out of range', 'timeoutMs: 2000', 'timeoutMs: 0', 'qubes.qubesdb.timeoutMs: 0 is outside'],
    [
      'a string where a number belongs',
      'timeoutMs: 2000',
      'timeoutMs: soon',
      'expected a whole number, found string "soon"',
    ],
    ['a bad address', 'gateway: 10.152.152.10', 'gateway: 10.152.152.300', 'is not an IPv4 address'],
    [
      'a marker name with a slash',
      'secure: whonix-secure-proxy',
      'secure: ../whonix-secure-proxy',
      'updatesProxy.markers.secure',
    ],
  ])('rejects %s, naming the file and the line', async (_name, find, replace, message) => {
    const { text, line } = withLine(find, replace)
    await expect(parseManifest(text, 'my.yaml')).rejects.toThrow(`my.yaml:${line}: `)
    await expect(parseManifest(text, 'my.yaml')).rejects.toThrow(message)
  })

  it('points a missing key at its parent mapping', async () => {
    const { text } = withLine('  runQubes: /run/qubes', '')
    const parentLine = shippedText.split('\n').findIndex((line) => line.startsWith('paths:')) + 1
    const error = await parseManifest(text, 'm.yaml').catch((caught: Error) => caught)
    expect((error as Error).message).toMatch(/missing key "runQubes"/)
    expect(Number(/m\.yaml:(\d+):/.exec((error as Error).message)?.[1])).toBeGreaterThanOrEqual(parentLine)
  })

  it('reports YAML syntax errors and duplicate keys with their line', async () => {
    await expect(parseManifest('schema: 1\npaths: [unclosed\n', 'bad.yaml')).rejects.toMatchObject({
      code: 'MANIFEST_INVALID',
    })
    const duplicate = shippedText.replace('schema: 1', 'schema: 1\nschema: 1')
    await expect(parseManifest(duplicate, 'dup.yaml')).rejects.toThrow(/dup\.yaml:\d+: .*(unique|duplicate)/i)
  })

  it('reads a manifest written as JSON as the same data, and reports a mistake in it with its line', async () => {
    const json = JSON.stringify(parse(shippedText), null, 2)
    expect(await parseManifest(json, 'qubes.json')).toEqual(await parseManifest(shippedText, 'qubes.yaml'))
    // Read as JSON, not by the YAML parser: a repeated key, which YAML refuses, is taken (the last counts).
    const repeated = json.replace('{', '{\n  "schema": 0,')
    await expect(parseManifest(repeated, 'repeated.json')).resolves.toEqual(await parseManifest(json, 'qubes.json'))
    await expect(parseManifest(repeated.replace('{', '{\n# YAML now\n'), 'repeated.yaml')).rejects.toThrow(
      /unique|duplicate/i,
    )
    // A mistake goes to the YAML parser (JSON is YAML), which names the line as for YAML.
    const lines = json.split('\n')
    const index = lines.findIndex((line) => line.includes('"runQubes": "/run/qubes"'))
    lines[index] = lines[index]!.replace('"/run/qubes"', '42')
    await expect(parseManifest(lines.join('\n'), 'bad.json')).rejects.toThrow(
      `bad.json:${index + 1}: paths.runQubes: expected a string, found number 42`,
    )
  })

  it('refuses YAML aliases, which could blow up in size', async () => {
    const text = shippedText.replace('schema: 1', 'schema: 1\nx: &a [1]\ny: *a')
    await expect(parseManifest(text, 'alias.yaml')).rejects.toMatchObject({ code: 'MANIFEST_INVALID' })
  })

  it('says when the file cannot be read', async () => {
    await expect(loadManifest('/nonexistent/qubes.yaml')).rejects.toMatchObject({ code: 'MANIFEST_UNREADABLE' })
  })

  it('makes the CLI print one line and exit 1 for an invalid --config', async () => {
    const dir = await tempRoot()
    const file = join(dir, 'broken.yaml')
    const { text, line } = withLine('runQubes: /run/qubes', 'runQubes: 42')
    await writeFile(file, text)
    const run = await runAgent(['--config', file, 'role'])
    expect(run.code).toBe(1)
    expect(run.stderr.trim().split('\n')).toEqual([
      `qubes-whonix-agent: ${file}:${line}: paths.runQubes: expected a string, found number 42`,
    ])
  })
})
