// Root writing and reading a file in a user's directory while that user, a real
// unprivileged process, exchanges the directory with a link to a root-only directory
// (renameat2 RENAME_EXCHANGE, as fast as it can): root must never create, change or read a
// file there. The same race run against a writer that checks by path first shows the race
// is real.
import { lstat, readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { writeFileAtomic } from '../../agent/fs/atomic-write'
import { readFileThrough } from '../../agent/fs/resolve'
import { shippedManifest } from '../../agent/features'
import { buildSimulatedQube } from '../../agent/simulate/build'
import { PROFILES } from '../../agent/simulate/profiles'
import { runAgent } from '../helpers/cli'
import { ATTACKER, ROOT_SECRET, hostileRoot, isRoot, python, startExchanger, swappableHome } from './hostile'

const RUNS = 500
const CONTROL_RUNS = 10_000
const AGENT_RUNS = 10

/** Whether root-only's files are as they were (only xchat.conf, holding the root secret). */
async function rootOnlyUntouched(rootOnly: string): Promise<boolean> {
  const names = await readdir(rootOnly)
  return (
    names.length === 1 &&
    names[0] === 'xchat.conf' &&
    (await readFile(join(rootOnly, 'xchat.conf'), 'utf8')) === ROOT_SECRET
  )
}

/** The way of writing before the pinned directories: check by path, then create and rename by path. */
async function writeByPath(path: string, content: string, run: number): Promise<void> {
  const directory = await lstat(dirname(path))
  if (!directory.isDirectory() || directory.uid !== ATTACKER) throw new Error('refused')
  const temporary = join(dirname(path), `.xchat.conf.${run}.tmp`)
  await writeFile(temporary, content, { flag: 'wx' })
  await rename(temporary, path)
}

async function restore(rootOnly: string): Promise<void> {
  for (const name of await readdir(rootOnly))
    if (name !== 'xchat.conf') await rename(join(rootOnly, name), join(dirname(rootOnly), `won-${name}`))
  await writeFile(join(rootOnly, 'xchat.conf'), ROOT_SECRET, { mode: 0o600 })
}

describe.skipIf(!isRoot || python.missing)(
  "root and a user's directory swapped with a link (renameat2 RENAME_EXCHANGE)",
  () => {
    it(`writes and reads: ${RUNS} runs each, the attacker never wins`, async () => {
      const root = await hostileRoot('qwa-hostile-exchange-')
      const { home, file, rootOnly } = await swappableHome(root)
      const attacker = await startExchanger(home, '.xchat2', 'decoy')
      const outcomes = new Map<string, number>()
      const count = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
      let writeWins = 0
      let readWins = 0
      for (let run = 0; run < RUNS; run++) {
        const content = `APT::Update::Pre-Invoke { "touch /tmp/owned-${run}"; };\n`
        await writeFileAtomic(file, content, { root }).then(
          () => count('write ok'),
          (error: { code?: string; message?: string }) => count(`write ${error.code ?? error.message}`),
        )
        if (!(await rootOnlyUntouched(rootOnly))) {
          writeWins++
          await restore(rootOnly)
        }
        await readFileThrough(file, { root, maxBytes: 4096 }).then(
          (read) => {
            count('read ok')
            if (read?.content.toString() === ROOT_SECRET) readWins++
          },
          (error: { code?: string; message?: string }) => count(`read ${error.code ?? error.message}`),
        )
      }
      const swaps = await attacker.stop()
      console.log(
        `exchange race: ${RUNS} writes and reads, ${swaps} swaps by uid ${ATTACKER}; won: ${writeWins} writes, ${readWins} reads; outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`,
      )
      expect({ writeWins, readWins }).toEqual({ writeWins: 0, readWins: 0 })
      // Every refusal is one of the walk's own one-line errors.
      expect(
        [...outcomes.keys()].filter(
          (key) => !/^(write|read) (ok|UNSAFE_LINK|PATH_CHANGED|NOT_A_FILE|NOT_A_DIRECTORY)$/.test(key),
        ),
      ).toEqual([])
      // The race was on: the attacker swapped all along, and root found both states.
      expect(swaps).toBeGreaterThan(RUNS)
      expect(outcomes.get('write ok') ?? 0).toBeGreaterThan(0)
      expect(RUNS - (outcomes.get('write ok') ?? 0)).toBeGreaterThan(0)
    }, 60_000)

    it(`the same race won by a writer that checks by path first (until a win, at most ${CONTROL_RUNS} runs): the test can see a win`, async () => {
      const root = await hostileRoot('qwa-hostile-exchange-control-')
      const { home, file, rootOnly } = await swappableHome(root)
      const attacker = await startExchanger(home, '.xchat2', 'decoy')
      let wins = 0
      let run = 0
      // On a loaded machine the attacker may get few time slices: run until it wins, within bounds.
      const until = performance.now() + 40_000
      for (; run < CONTROL_RUNS && wins < 3 && performance.now() < until; run++) {
        await writeByPath(file, `APT::Update::Pre-Invoke { "touch /tmp/owned-${run}"; };\n`, run).catch(() => undefined)
        if (!(await rootOnlyUntouched(rootOnly))) {
          wins++
          await restore(rootOnly)
        }
      }
      const swaps = await attacker.stop()
      console.log(`exchange race against a writer checking by path: ${run} runs, ${swaps} swaps, won ${wins}`)
      expect(wins).toBeGreaterThan(0)
    }, 60_000)

    it(`the real replace-ips, ${AGENT_RUNS} runs under the attack: the user's file or a clean failure, never root's`, async () => {
      const root = await hostileRoot('qwa-hostile-exchange-agent-')
      await buildSimulatedQube(root, PROFILES.workstation, shippedManifest())
      const { home, rootOnly } = await swappableHome(root)
      const attacker = await startExchanger(home, '.xchat2', 'decoy')
      const codes: (number | null)[] = []
      for (let run = 0; run < AGENT_RUNS; run++) {
        const result = await runAgent(['--root', root, 'replace-ips', '--json'])
        codes.push(result.code)
        expect(await rootOnlyUntouched(rootOnly)).toBe(true)
      }
      await attacker.stop()
      // 0 when it wrote the user's own file, 1 when it refused (a one-line problem, never a crash).
      expect(
        codes.every((code) => code === 0 || code === 1),
        codes.join(','),
      ).toBe(true)
    }, 60_000)
  },
)
