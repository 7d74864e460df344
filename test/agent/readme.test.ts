import { readdir, readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, onTestFinished } from 'vitest'
import { runProgram } from '../helpers/cli'
import { tempRoot } from '../helpers/sandbox'

const CHECKOUT = fileURLToPath(new URL('../..', import.meta.url))

/** The first ```sh block after `heading` in a page of the checkout (README.md, docs/...). */
async function readmeBlock(page: string, heading: string): Promise<string> {
  const readme = await readFile(new URL(`../../${page}`, import.meta.url), 'utf8')
  const after = readme.slice(readme.indexOf(heading))
  const block = /```sh\n([\s\S]*?)```/.exec(after)?.[1]
  if (block === undefined) throw new Error(`no sh block after ${heading}`)
  return block
}

/** Processes whose command line names `text` (the script's own temporary directory). */
async function processesNaming(text: string): Promise<number[]> {
  const found: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')
    if (cmdline.includes(text)) found.push(Number(entry))
  }
  return found
}

describe("the docs' examples, run as written", () => {
  it('"Try it" runs from a checkout, and the daemon it starts stops with its job', async () => {
    const tmp = await tempRoot('qwa-readme-')
    // Whatever goes wrong, nothing started here outlives the test.
    onTestFinished(async () => {
      for (const pid of await processesNaming(tmp)) process.kill(pid, 'SIGKILL')
    })
    const env = { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, TMPDIR: tmp }
    const run = await runProgram(
      'bash',
      ['-e', '-c', await readmeBlock('docs/daemon.md', 'Try it in a simulated qube:')],
      {
        cwd: CHECKOUT,
        env,
        timeoutMs: 25_000,
      },
    )
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/"ok":true,"result":\{[^\n]*"whonix":"gateway"/)
    expect(run.stderr).toMatch(/<6>stopped/)
    expect(await processesNaming(tmp)).toEqual([])
    expect(await readdir(tmp)).toEqual([])
  })
})
