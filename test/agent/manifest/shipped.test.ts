import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { shippedManifest } from '../../../agent/features'
import { manifestSchema } from '../../../agent/manifest-schema'

// The build checks qubes.yaml against the schema (scripts/manifest-plugin.mjs); the program
// only copies the result.
describe('the built-in manifest', () => {
  it('is qubes.yaml as the schema checks it', () => {
    const yaml = parse(readFileSync(new URL('../../../qubes.yaml', import.meta.url), 'utf8')) as unknown
    expect(shippedManifest()).toEqual(manifestSchema(yaml, []))
  })

  it('is a copy of its own for each caller', () => {
    const first = shippedManifest()
    ;(first.paths as { qubesdbRead: string }).qubesdbRead = '/elsewhere'
    expect(shippedManifest().paths.qubesdbRead).toBe('/usr/bin/qubesdb-read')
  })
})
