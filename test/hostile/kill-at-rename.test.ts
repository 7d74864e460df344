// The real replace-ips killed with SIGKILL exactly as it enters each of its renames in turn
// (strace's fault injection, so no kill depends on timing): every file is old or new, and
// the next run finishes the job and removes the killed run's temporary files.
import { spawn } from 'node:child_process'
import { lstat, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { shippedManifest } from '../../agent/features'
import { buildSimulatedQube } from '../../agent/simulate/build'
import { PROFILES } from '../../agent/simulate/profiles'
import { AGENT, runAgent } from '../helpers/cli'
import { requirePart } from '../helpers/parts'
import { tempRoot } from '../helpers/sandbox'

const strace = requirePart('strace')
const TEMPORARY = /(^|\/)\.[^/]+\.qwa-\d+-[0-9a-f]{12}\.tmp$/

/** Every regular file under `root` and its content (the root's own path, which the qubesdb stand-in holds, made neutral). */
async function snapshot(root: string): Promise<Map<string, string>> {
  const files = new Map<string, string>()
  for (const name of await readdir(root, { recursive: true })) {
    const path = join(root, name)
    if ((await lstat(path)).isFile()) files.set(name, (await readFile(path, 'latin1')).replaceAll(root, 'ROOT'))
  }
  return files
}

async function simulated(profile: 'gateway' | 'workstation'): Promise<string> {
  const root = await tempRoot('qwa-hostile-kill-')
  await buildSimulatedQube(root, PROFILES[profile], shippedManifest())
  return root
}

/** replace-ips killed as it enters its `nth` rename; resolves to whether it was killed. */
function killedAtRename(root: string, nth: number): Promise<boolean> {
  // One libuv thread: strace counts calls per thread, so every rename must come from one.
  const env = { ...process.env, PATH: '/usr/bin:/bin', UV_THREADPOOL_SIZE: '1' }
  const args = [
    '-f',
    '-qq',
    '-o',
    '/dev/null',
    '-e',
    'trace=rename,renameat,renameat2',
    '-e',
    `inject=rename,renameat,renameat2:signal=KILL:when=${nth}`,
    process.execPath,
    AGENT,
    '--root',
    root,
    'replace-ips',
  ]
  return new Promise((resolve, reject) => {
    const child = spawn(strace.path ?? 'strace', args, { env, stdio: 'ignore' })
    child.on('error', reject)
    child.on('close', (code, signal) => resolve(signal === 'SIGKILL' || code === 137))
  })
}

describe.skipIf(strace.missing)('replace-ips killed with SIGKILL at every rename', () => {
  it.each(['gateway', 'workstation'] as const)(
    'on a %s: each file old or new, and the next run completes it and removes the leftovers',
    async (profile) => {
      const reference = await simulated(profile)
      const before = await snapshot(reference)
      expect((await runAgent(['--root', reference, 'replace-ips'])).code).toBe(0)
      const after = await snapshot(reference)
      const changed = [...after.keys()].filter((name) => before.get(name) !== after.get(name))
      expect(changed.length).toBeGreaterThan(1)

      let renames = 0
      for (let nth = 1; nth <= 50; nth++) {
        const root = await simulated(profile)
        if (!(await killedAtRename(root, nth))) break
        renames = nth
        const killed = await snapshot(root)
        const wrong = [...killed].filter(
          ([name, content]) => !TEMPORARY.test(name) && content !== before.get(name) && content !== after.get(name),
        )
        expect(
          wrong.map(([name]) => name),
          `killed at rename ${nth}`,
        ).toEqual([])
        // The temporary file it was renaming is left behind.
        expect(
          [...killed.keys()].filter((name) => TEMPORARY.test(name)),
          `killed at rename ${nth}`,
        ).toHaveLength(1)
        // Each file before the nth rename is new, the nth and later ones old.
        expect(changed.filter((name) => killed.get(name) === after.get(name)).length, `killed at rename ${nth}`).toBe(
          nth - 1,
        )

        const rerun = await runAgent(['--root', root, 'replace-ips'])
        expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0)
        const done = await snapshot(root)
        expect(
          [...done.keys()].filter((name) => TEMPORARY.test(name)),
          `after a kill at rename ${nth}`,
        ).toEqual([])
        expect(done).toEqual(after)
      }
      console.log(
        `kill -9 at every rename: replace-ips on a ${profile} makes ${renames} renames, killed at each in turn`,
      )
      expect(renames).toBe(changed.length)
    },
    120_000,
  )
})
