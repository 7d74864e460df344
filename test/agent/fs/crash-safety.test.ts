import { spawn } from 'node:child_process'
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { contentFor, fileName } from './crash-content'

// kill -9 at random moments while a real process rewrites many files with writeFileAtomic;
// afterwards every file must hold exactly its old or its new content, never a mixture or nothing.
const TRIALS = Number(process.env.QWA_TRIALS ?? 100)
const FILES = 60
const LINKED = [1, 7] // these are symbolic links to files in a subdirectory: written through

let writer: string
let out: string

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'qwa-crash-build-'))
  writer = join(out, 'crash-writer.mjs')
  await build({
    entryPoints: [fileURLToPath(new URL('./crash-writer.ts', import.meta.url))],
    outfile: writer,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node18',
    logLevel: 'warning',
  })
})
afterAll(() => rm(out, { recursive: true, force: true }))

interface Run {
  readonly killed: boolean
  readonly done: boolean
}

/** Starts the writer; kills it `delayMs` after it is ready (never, when null). */
function runWriter(dir: string, label: string, delayMs: number | null): Promise<Run & { durationMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, dir, String(FILES), label], { stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    let readyAt = 0
    let doneAt = 0
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
      if (readyAt === 0 && output.includes('ready\n')) {
        readyAt = performance.now()
        if (delayMs !== null) setTimeout(() => child.kill('SIGKILL'), delayMs)
      }
      if (doneAt === 0 && output.includes('done\n')) doneAt = performance.now()
    })
    child.on('error', reject)
    child.on('close', (_code, signal) =>
      resolve({ killed: signal === 'SIGKILL', done: doneAt > 0, durationMs: doneAt - readyAt }),
    )
  })
}

async function resetFiles(dir: string, label: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
  await mkdir(join(dir, 'targets'), { recursive: true })
  for (let index = 0; index < FILES; index++) {
    const path = join(dir, fileName(index))
    const real = LINKED.includes(index) ? join(dir, 'targets', fileName(index)) : path
    await writeFile(real, contentFor(index, label))
    await chmod(real, 0o640)
    if (real !== path) await symlink(join('targets', fileName(index)), path)
  }
}

/** For each file: 'old', 'new', or what is wrong with it. */
async function classify(dir: string, oldLabel: string, newLabel: string): Promise<string[]> {
  const states: string[] = []
  for (let index = 0; index < FILES; index++) {
    const path = join(dir, fileName(index))
    if (LINKED.includes(index)) {
      if (!(await lstat(path)).isSymbolicLink() || (await readlink(path)) !== join('targets', fileName(index))) {
        states.push(`f${index}: the link was replaced`)
        continue
      }
    }
    const content = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => `<${error.code}>`)
    const mode = (await stat(path).catch(() => ({ mode: 0 }))).mode & 0o7777
    if (mode !== 0o640) states.push(`f${index}: mode ${mode.toString(8)}`)
    else if (content === contentFor(index, oldLabel)) states.push('old')
    else if (content === contentFor(index, newLabel)) states.push('new')
    else
      states.push(`f${index}: neither old nor new (${content.length} bytes: ${JSON.stringify(content.slice(0, 40))})`)
  }
  return states
}

describe('atomic writes under kill -9', () => {
  it(`leave every file old or new in ${TRIALS} trials killed at random moments`, async () => {
    // kill -9 does not drop the page cache, so the disk's fsync costs nothing to the property
    // tested here (the rename): on tmpfs the trials run several times faster.
    const base = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'qwa-crash-'))
    onTestFinished(() => rm(base, { recursive: true, force: true }))
    const dir = join(base, 'files')
    // Calibrate: how long one full pass takes on this machine (the fastest of three), so kills land inside it.
    const passes: number[] = []
    for (const round of [1, 2, 3]) {
      await resetFiles(dir, `calibration-${round}-old`)
      const full = await runWriter(dir, `calibration-${round}-new`, null)
      expect(full.done).toBe(true)
      expect(await classify(dir, `calibration-${round}-old`, `calibration-${round}-new`)).toEqual(
        Array(FILES).fill('new'),
      )
      passes.push(full.durationMs)
    }
    // Kill moments are steered into the rewriting: a kill that found nothing written raises the
    // lower bound, one that found everything written lowers the upper bound.
    let [low, high] = [0, Math.max(Math.min(...passes), 5)]

    const outcomes = { partial: 0, none: 0, all: 0 }
    for (let trial = 0; trial < TRIALS; trial++) {
      const [oldLabel, newLabel] = [`trial-${trial}-old`, `trial-${trial}-new-generation`]
      await resetFiles(dir, oldLabel)
      const delay = low + Math.random() * (high - low)
      const run = await runWriter(dir, newLabel, delay)
      const states = await classify(dir, oldLabel, newLabel)
      const wrong = states.filter((state) => state !== 'old' && state !== 'new')
      expect(wrong, `trial ${trial} (killed: ${run.killed})`).toEqual([])
      // New files can only appear in write order: a prefix of the list.
      const firstOld = states.indexOf('old')
      expect(
        firstOld === -1 ? [] : states.slice(firstOld).filter((state) => state === 'new'),
        `trial ${trial}: out of order`,
      ).toEqual([])
      const fresh = states.filter((state) => state === 'new').length
      outcomes[fresh === 0 ? 'none' : fresh === FILES ? 'all' : 'partial']++
      if (fresh === 0) low = delay
      if (fresh === FILES) high = delay
      // Whatever the kill left behind besides the files is a hidden temporary file.
      const names = (await readdir(dir)).filter((name) => name !== 'targets' && !/^f\d+$/.test(name))
      expect(
        names.every((name) => /^\.f\d+\.qwa-\d+-[0-9a-f]{12}\.tmp$/.test(name)),
        names.join(', '),
      ).toBe(true)
    }
    console.log(
      `crash safety: ${TRIALS} trials, calibrated pass ${Math.min(...passes).toFixed(0)} ms; killed mid-way ${outcomes.partial}, before any write ${outcomes.none}, after all ${outcomes.all}`,
    )
    // The kills must really have landed inside the rewriting, most of the time.
    expect(outcomes.partial).toBeGreaterThan(TRIALS / 2)
  }, 180_000)
})
