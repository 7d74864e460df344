/**
 * `npm run bench -- atomic-write`: what pinning every directory costs a write. Ours (the
 * pinned walk of agent/fs: O_PATH descriptors, lookups through /proc/self/fd, dead
 * writers' leftovers looked for) against the by-path writer it replaces (temporary file,
 * fsync, rename, directory fsync, all by path), side by side in the same run, on the path
 * replace-ips writes in a user's home (/home/user/.xchat2/xchat.conf, under /dev/shm so
 * the disk's fsync does not hide the difference), alternating so load hits both alike.
 */
import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { mkdir, mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { writeFileAtomic } from '../agent/fs/atomic-write'
import { median, percentile, round } from './stats'

const WRITES = Number(process.env.BENCH_RUNS ?? 2000)

/** The writer before pinning: the same steps by path. */
async function writeByPath(path: string, content: string): Promise<void> {
  const temporary = join(dirname(path), `.xchat.conf.${randomBytes(6).toString('hex')}.tmp`)
  const handle = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644)
  await handle.writeFile(content)
  await handle.sync()
  await handle.close()
  await rename(temporary, path)
  const directory = await open(dirname(path), 'r')
  await directory.sync()
  await directory.close()
}

async function timed(write: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await write()
  return performance.now() - started
}

const base = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'qwa-bench-write-'))
try {
  const file = join(base, 'home/user/.xchat2/xchat.conf')
  await mkdir(dirname(file), { recursive: true })
  await writeFile(file, 'net_proxy_host = 10.152.152.10\n')
  const ours: number[] = []
  const byPath: number[] = []
  for (let run = 0; run < WRITES; run++) {
    const content = `net_proxy_host = 10.137.0.${run % 250}\nrun ${run}\n`
    ours.push(await timed(() => writeFileAtomic(file, content)))
    byPath.push(await timed(() => writeByPath(file, `${content}by path\n`)))
  }
  const figures = {
    writes: WRITES,
    oursP50Ms: round(median(ours), 3),
    oursP99Ms: round(percentile(ours, 99), 3),
    byPathP50Ms: round(median(byPath), 3),
    byPathP99Ms: round(percentile(byPath, 99), 3),
    ratioP50: round(median(ours) / median(byPath), 2),
  }
  console.log(
    `pinned writer: p50 ${figures.oursP50Ms} ms, p99 ${figures.oursP99Ms} ms; by-path writer: p50 ${figures.byPathP50Ms} ms, p99 ${figures.byPathP99Ms} ms (${WRITES} writes each)`,
  )
  console.log(
    JSON.stringify({
      bench: 'atomic-write',
      figures,
      goal: 'pinning costs at most 2x the by-path writer at p50',
      met: figures.ratioP50 <= 2,
    }),
  )
} finally {
  await rm(base, { recursive: true, force: true })
}
