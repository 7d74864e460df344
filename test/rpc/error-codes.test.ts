import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { ERROR_CODES } from '../../rpc/error-codes'

describe('error codes', () => {
  it('docs/errors.md lists exactly the codes of rpc/error-codes.ts', async () => {
    const page = await readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8')
    const documented = [...page.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((match) => match[1])
    expect(documented.sort()).toEqual(Object.keys(ERROR_CODES).sort())
  })
})
