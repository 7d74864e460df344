import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempRoot } from '../../helpers/sandbox'
import { commandLine, descendants, type GateSandbox, gateSandbox, gateWaiting, manifest, start, touch } from './helpers'

// uwt's wrapper, as docs/qubes-facts.md (apt gate) describes it: an associative array, every drop-in
// sourced in order, then the real program (here: it reports the array and its arguments).
const HARNESS = `#!/bin/bash
set -o errexit -o nounset -o pipefail
declare -A uwtwrapper
uwtwrapper_parent="$1"
shift
for conf in "$UWT_DIR"/*.conf; do
  source "$conf"
done
for key in "\${!uwtwrapper[@]}"; do printf 'uwtwrapper[%s]=%s\\n' "$key" "\${uwtwrapper[$key]}"; done | LC_ALL=C sort
echo "RAN $uwtwrapper_parent $*"
`

const UNWRAPPED = ['/usr/bin/apt', '/usr/bin/apt-file', '/usr/bin/apt-get', '/usr/bin/aptitude-curses']
  .map((key) => `uwtwrapper[${key}]=0`)
  .sort()

async function harness(box: GateSandbox): Promise<string> {
  const file = join(box.root, 'uwt-harness')
  await writeFile(file, HARNESS)
  await chmod(file, 0o755)
  return file
}

function wrap(box: GateSandbox, file: string, parent: string, env: NodeJS.ProcessEnv = {}) {
  return start([file, parent, 'update'], { env: { ...box.env, UWT_DIR: join(box.root, 'etc/uwt.d'), ...env } })
}

describe('the uwt drop-in, sourced as uwt does', () => {
  it('with the marker: the shell fast path unwraps apt and never starts the agent', async () => {
    // An agent that cannot start: reaching it would fail the run.
    const box = await gateSandbox('template-workstation', ['/nonexistent/qubes-whonix-agent'])
    await touch(box.secure)
    const run = wrap(box, await harness(box), '/usr/bin/apt-get')
    expect(await run.ended).toEqual({ code: 0, signal: null })
    expect(run.stdout().split('\n').filter(Boolean)).toEqual([...UNWRAPPED, 'RAN /usr/bin/apt-get update'])
    expect(run.stderr()).toBe('')
  })

  it('with only check-done: exit 255 with the warning, the program never runs', async () => {
    const box = await gateSandbox()
    await touch(box.done)
    const run = wrap(box, await harness(box), '/usr/bin/apt-get')
    expect(await run.ended).toEqual({ code: 255, signal: null })
    expect(run.stderr().split('\n')[0]).toBe(
      "WARNING: Execution of '/usr/bin/apt-get' prevented by '/etc/uwt.d/40_qubes.conf' because no torified Qubes updates proxy found.",
    )
    expect(run.stderr()).toContain(manifest.aptGate.help.policyLine)
    expect(run.stdout()).toBe('')
  })

  it('with neither: waits, and proceeds unwrapped when the marker appears', async () => {
    const box = await gateSandbox()
    const run = wrap(box, await harness(box), '/usr/bin/apt')
    await gateWaiting(run.child.pid as number)
    await touch(box.secure)
    expect(await run.ended).toEqual({ code: 0, signal: null })
    expect(run.stdout().split('\n').filter(Boolean)).toEqual([...UNWRAPPED, 'RAN /usr/bin/apt update'])
  })

  it('torified_check=skip, and programs that are not apt, pass untouched even after a failed check', async () => {
    const box = await gateSandbox('template-workstation', ['/nonexistent/qubes-whonix-agent'])
    await touch(box.done)
    const file = await harness(box)
    const skipped = wrap(box, file, '/usr/bin/apt-get', { torified_check: 'skip' })
    expect(await skipped.ended).toEqual({ code: 0, signal: null })
    expect(skipped.stdout()).toBe('RAN /usr/bin/apt-get update\n')
    for (const parent of ['/usr/bin/curl', '/usr/bin/aptly', '/usr/bin/apt-cache']) {
      const other = wrap(box, file, parent)
      expect(await other.ended, parent).toEqual({ code: 0, signal: null })
      expect(other.stdout()).toBe(`RAN ${parent} update\n`)
    }
    // apt-get (uwt's displaced name) is gated: with the agent missing it is refused all the same.
    const wrapped = wrap(box, file, '/usr/bin/apt-get.anondist')
    expect((await wrapped.ended).code).toBe(255)
    expect(wrapped.stderr().split('\n')[0]).toBe(
      "WARNING: Execution of '/usr/bin/apt-get.anondist' prevented by '/etc/uwt.d/40_qubes.conf' because no torified Qubes updates proxy found.",
    )
    expect(wrapped.stdout()).toBe('')
  })

  it('an agent that fails (exit 1, not a refusal) under errexit: the WARNING line and exit 255, the program never runs', async () => {
    const failing = join(await tempRoot('qwa-test-failing-'), 'agent')
    await writeFile(failing, '#!/bin/sh\necho "node: some error" >&2\nexit 1\n')
    await chmod(failing, 0o755)
    const box = await gateSandbox('template-workstation', [failing])
    const run = wrap(box, await harness(box), '/usr/bin/apt-get')
    expect(await run.ended).toEqual({ code: 255, signal: null })
    expect(run.stderr()).toContain(
      "WARNING: Execution of '/usr/bin/apt-get' prevented by '/etc/uwt.d/40_qubes.conf' because no torified Qubes updates proxy found.\nqubes-whonix-agent: the gate failed (exit 1)",
    )
    expect(run.stdout()).toBe('')
  })

  it('outside a template (an AppVM from the same template) apt passes without a look at the markers', async () => {
    const box = await gateSandbox('workstation', ['/nonexistent/qubes-whonix-agent'])
    await mkdir(box.dir, { recursive: true })
    await touch(box.done)
    const run = wrap(box, await harness(box), '/usr/bin/apt-get')
    expect(await run.ended).toEqual({ code: 0, signal: null })
    expect(run.stdout()).toBe('RAN /usr/bin/apt-get update\n')
  })

  it('SIGTERM to the waiting agent ends it by that signal; the wrapper stops, apt never runs', async () => {
    const box = await gateSandbox()
    const run = wrap(box, await harness(box), '/usr/bin/apt-get')
    await gateWaiting(run.child.pid as number)
    const pids = await descendants(run.child.pid as number)
    const agents = (await Promise.all(pids.map(async (pid) => ({ pid, line: await commandLine(pid) })))).filter(
      ({ line }) => line.includes('apt-gate'),
    )
    const agent = agents.at(-1)
    expect(agent).toBeDefined()
    process.kill(agent?.pid as number, 'SIGTERM')
    expect(await run.ended).toEqual({ code: 143, signal: null })
    expect(run.stdout()).toBe('')
    expect(run.stderr()).not.toContain('WARNING')
  })

  it('an unreadable marker directory refuses at once, saying why (agent run as nobody)', async () => {
    const box = await gateSandbox()
    await touch(box.secure)
    await chmod(box.dir, 0o700)
    const file = await harness(box)
    const run = start([file, '/usr/bin/apt-get'], {
      env: { ...box.env, UWT_DIR: join(box.root, 'etc/uwt.d'), HOME: '/' },
      uid: 65534,
      cwd: '/',
    })
    expect(await run.ended, run.stderr()).toEqual({ code: 255, signal: null })
    expect(run.stderr()).toMatch(/^WARNING: Execution of '\/usr\/bin\/apt-get'/)
    expect(run.stderr()).toContain('/run/updatesproxycheck cannot be read by this user (permission denied)')
  })
})
