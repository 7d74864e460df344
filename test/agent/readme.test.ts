import { spawn } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, onTestFinished } from 'vitest'
import { tempRoot } from '../helpers/sandbox'

const CHECKOUT = fileURLToPath(new URL('../..', import.meta.url))

/** The first ```sh block after `heading` in README.md. */
async function readmeBlock(heading: string): Promise<string> {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
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

function runScript(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-e', '-c', script], { cwd: CHECKOUT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

describe("the README's examples, run as written", () => {
  it('"Try it" runs from a checkout, and the daemon it starts stops with its job', async () => {
    const tmp = await tempRoot('qwa-readme-')
    // Whatever goes wrong, nothing started here outlives the test.
    onTestFinished(async () => {
      for (const pid of await processesNaming(tmp)) process.kill(pid, 'SIGKILL')
    })
    const run = await runScript(await readmeBlock('Try it in a simulated qube:'), { PATH: `${process.execPath.replace(/\/[^/]+$/, '')}:/usr/bin:/bin`, TMPDIR: tmp })
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/"ok":true,"result":\{[^\n]*"whonix":"gateway"/)
    expect(run.stderr).toMatch(/<6>stopped/)
    expect(await processesNaming(tmp)).toEqual([])
    expect(await readdir(tmp)).toEqual([])
  })
})
