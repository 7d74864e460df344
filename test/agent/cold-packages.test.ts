import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { coldSection } from '../../scripts/cold-modules.mjs'
import { tempRoot } from '../helpers/sandbox'

const LOADER = readFileSync(new URL('../../scripts/program-loader.mjs', import.meta.url), 'utf8')
// A program that requires its cold package `late` once a line comes on stdin, and prints it.
const PROGRAM = `(function (exports, require) {
  process.stdin.once('data', () => { process.stdout.write(JSON.stringify(require('late'))); process.exit(0) })
  process.stdout.write('ready\\n')
})`

/** A bundle as scripts/build.mjs makes one: the real loader, a program, two cold packages. */
function bundleText(late: string): string {
  const { comment, index } = coldSection([
    { name: 'late', text: `module.exports = ${JSON.stringify(late)}` },
    { name: 'other', text: 'module.exports = "other"' },
  ])
  return `#!/usr/bin/env node\n${LOADER}\nrunProgram("test", ${JSON.stringify(PROGRAM)}, ${JSON.stringify(index)})\n${comment}`
}

/** Starts the bundle, lets `meanwhile` act once it runs, then has it load `late`. */
async function lateValue(bundle: string, meanwhile: () => void = () => undefined): Promise<string> {
  const child = spawn(process.execPath, [bundle], { stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
  while (!out.startsWith('ready\n')) await once(child.stdout, 'data')
  meanwhile()
  child.stdin.end('go\n')
  const [code] = (await once(child, 'exit')) as [number | null]
  expect(code).toBe(0)
  return JSON.parse(out.slice('ready\n'.length)) as string
}

describe('the npm packages kept in a comment at the end of the bundle', () => {
  it('come back exactly as bundled, whatever characters they hold', async () => {
    const bundle = join(await tempRoot(), 'agent.mjs')
    const awkward = 'a */ b ~ c ~/ d *~/ e ~~ f /* g é ✓ \u2028 h */'
    writeFileSync(bundle, bundleText(awkward))
    expect(await lateValue(bundle)).toBe(awkward)
  })

  it('are read from the build the process started with, even once the bundle is replaced on disk', async () => {
    const dir = await tempRoot()
    const bundle = join(dir, 'agent.mjs')
    writeFileSync(bundle, bundleText('the running build'))
    const replace = () => {
      writeFileSync(join(dir, 'new.mjs'), bundleText('an upgrade, of another length'))
      renameSync(join(dir, 'new.mjs'), bundle)
    }
    expect(await lateValue(bundle, replace)).toBe('the running build')
    expect(await lateValue(bundle)).toBe('an upgrade, of another length')
  })
})
