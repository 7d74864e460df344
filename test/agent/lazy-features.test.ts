// The bundle evaluates a feature's modules only when a command uses them (agent/features.ts
// lists each as a dynamic import). Seen from outside, on the real bundle, by the Node modules
// the process loaded: `http` comes with the updates proxy's probe (the bridge, the check),
// `crypto` with the Tor settings, the Tor client and the firewall, `perf_hooks` with the
// qrexec server and the Tor settings' lock; role needs none of them.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { AGENT, runProgram } from '../helpers/cli'
import { tempRoot } from '../helpers/sandbox'

/** The Node modules (`node:` names) a run of the agent loaded, written by a preload at exit. */
async function nodeModulesLoaded(args: readonly string[]): Promise<Set<string>> {
  const dir = await tempRoot()
  const preload = join(dir, 'loaded.cjs')
  const list = join(dir, 'loaded.txt')
  await writeFile(
    preload,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')))\n`,
  )
  const run = await runProgram(process.execPath, ['--require', preload, AGENT, ...args])
  expect(run.code, run.stderr).toBe(0)
  const loaded = (await readFile(list, 'utf8')).split('\n')
  return new Set(loaded.filter((entry) => entry.startsWith('NativeModule ')).map((entry) => entry.slice(13)))
}

describe("a plain command loads its own features' modules, not every feature's", () => {
  it('role: spawns qubesdb-read, and loads no HTTP, crypto or performance hooks', async () => {
    const root = await tempRoot()
    expect((await runProgram(process.execPath, [AGENT, '--root', root, 'simulate', '--as', 'gateway'])).code).toBe(0)
    const loaded = await nodeModulesLoaded(['--root', root, 'role', '--json'])
    expect(loaded).toContain('child_process')
    for (const module of ['http', 'crypto', 'perf_hooks']) expect(loaded).not.toContain(module)
  })

  it("status: the features' status readers (the Tor settings' need crypto), and no HTTP", async () => {
    const root = await tempRoot()
    expect((await runProgram(process.execPath, [AGENT, '--root', root, 'simulate', '--as', 'gateway'])).code).toBe(0)
    const loaded = await nodeModulesLoaded(['--root', root, 'status', '--json'])
    expect(loaded).toContain('crypto')
    expect(loaded).not.toContain('http')
  })
})
