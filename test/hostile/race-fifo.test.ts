// A user puts a FIFO where root expects their regular file, once or swapping the two all
// the time (renameat2 RENAME_EXCHANGE): root's reads and writes never wait on the FIFO,
// they refuse it or use the regular file, and the real replace-ips goes on with the next
// files.
import { execFileSync } from 'node:child_process'
import { chown, lstat, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { writeFileAtomic } from '../../agent/fs/atomic-write'
import { readFileThrough } from '../../agent/fs/resolve'
import { shippedManifest } from '../../agent/features'
import { buildSimulatedQube } from '../../agent/simulate/build'
import { PROFILES } from '../../agent/simulate/profiles'
import { runAgent } from '../helpers/cli'
import { ATTACKER, attackerDirectory, attackerFile, hostileRoot, isRoot, python, startExchanger } from './hostile'

const RUNS = 500
// Far above any one read or write here (about a millisecond): reaching it means root waited on the FIFO.
const HANG_MS = 10_000

async function fifoHome(root: string): Promise<{ directory: string; file: string }> {
  const directory = await attackerDirectory(join(root, 'home/user/.xchat2'))
  await chown(join(root, 'home/user'), ATTACKER, ATTACKER)
  const file = join(directory, 'xchat.conf')
  await attackerFile(file, 'net_proxy_host = 10.152.152.10\n')
  execFileSync('mkfifo', ['-m', '0666', join(directory, 'fifo')])
  await chown(join(directory, 'fifo'), ATTACKER, ATTACKER)
  return { directory, file }
}

function withinBound<T>(operation: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<never>(
    (_, reject) =>
      (timer = setTimeout(() => reject(new Error(`${what} waited ${HANG_MS} ms: blocked on the FIFO`)), HANG_MS)),
  )
  return Promise.race([operation, hang]).finally(() => clearTimeout(timer))
}

describe.skipIf(!isRoot || python.missing)('a FIFO where root expects a regular file', () => {
  it(`swapped in and out all the time: ${RUNS} reads and writes, none waits`, async () => {
    const root = await hostileRoot('qwa-hostile-fifo-')
    const { directory, file } = await fifoHome(root)
    const attacker = await startExchanger(directory, 'xchat.conf', 'fifo')
    const outcomes = new Map<string, number>()
    const count = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
    const code = (error: { code?: string; message?: string }) => error.code ?? error.message
    for (let run = 0; run < RUNS; run++) {
      await withinBound(readFileThrough(file, { root, maxBytes: 4096 }), 'a read').then(
        () => count('read ok'),
        (error: { code?: string }) => count(`read ${code(error)}`),
      )
      await withinBound(writeFileAtomic(file, `net_proxy_host = 10.137.0.${run % 250}\n`, { root }), 'a write').then(
        () => count('write ok'),
        (error: { code?: string }) => count(`write ${code(error)}`),
      )
    }
    const swaps = await attacker.stop()
    console.log(
      `FIFO race: ${RUNS} reads and writes, ${swaps} swaps by uid ${ATTACKER}; outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`,
    )
    expect([...outcomes.keys()].filter((key) => !/^(read|write) (ok|NOT_A_FILE|PATH_CHANGED)$/.test(key))).toEqual([])
    expect(swaps).toBeGreaterThan(RUNS)
    // Root met the FIFO (refused it) and the file (used it).
    expect(outcomes.get('read ok') ?? 0).toBeGreaterThan(0)
    expect(RUNS - (outcomes.get('read ok') ?? 0)).toBeGreaterThan(0)
  }, 60_000)

  it('the real replace-ips with a FIFO as xchat.conf: one problem line, the next files rewritten, exit 1, no wait', async () => {
    const root = await hostileRoot('qwa-hostile-fifo-agent-')
    await buildSimulatedQube(root, PROFILES.workstation, shippedManifest())
    const { directory } = await fifoHome(root)
    execFileSync('mv', ['-f', join(directory, 'fifo'), join(directory, 'xchat.conf')])
    const run = await runAgent(['--root', root, 'replace-ips'], { timeoutMs: HANG_MS })
    expect(run.signal).toBeNull()
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(/problem: \/home\/user\/\.xchat2\/xchat\.conf: .*is not a regular file/)
    expect((await lstat(join(directory, 'xchat.conf'))).isFIFO()).toBe(true)
    // The file after it in the list got the address Qubes assigned.
    expect(await readFile(join(root, 'usr/share/anon-apps-config/kioslaverc'), 'utf8')).toContain(
      PROFILES.workstation.qubesdb['/qubes-gateway'],
    )
  }, 30_000)
})
