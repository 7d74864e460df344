import { execFileSync } from 'node:child_process'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { requirePart, type Part } from '../../helpers/parts'
import { gateSandbox, type GateSandbox, gateWaiting, manifest, start, touch, UPDATE_PY } from './helpers'

const aptGet = requirePart('apt-get', 'apt')
// Debian's python3 with python3-apt, not whatever python3 comes first on PATH.
const python = pythonApt()

function pythonApt(): Part {
  const part = requirePart('/usr/bin/python3', 'python3-apt')
  if (part.missing) return part
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import apt'], { stdio: 'ignore' })
    return part
  } catch {
    return requirePart('python3-apt-is-not-installed', 'python3-apt')
  }
}
const WARNING =
  /WARNING: Execution of '(apt-get|python3) update' prevented by '\/etc\/apt\/apt\.conf\.d\/40qubes-whonix-apt-gate' because no torified Qubes updates proxy found\./

/** APT confined to the sandbox: its own state, an empty sources list, and only our hook in apt.conf.d. */
async function aptSandbox(box: GateSandbox): Promise<NodeJS.ProcessEnv> {
  for (const dir of [
    'etc/apt/sources.list.d',
    'etc/apt/preferences.d',
    'etc/apt/trusted.gpg.d',
    'var/lib/apt/lists/partial',
    'var/cache/apt/archives/partial',
    'var/lib/dpkg',
    'var/log/apt',
  ])
    await mkdir(join(box.root, dir), { recursive: true })
  await writeFile(join(box.root, 'etc/apt/sources.list'), '')
  await writeFile(join(box.root, 'var/lib/dpkg/status'), '')
  const config = join(box.root, 'apt.conf')
  await writeFile(config, `Dir "${box.root}/";\nDir::State::status "${box.root}/var/lib/dpkg/status";\n`)
  return { ...box.env, APT_CONFIG: config, LC_ALL: 'C' }
}

const updaters = {
  'apt-get update': (box: GateSandbox, env: NodeJS.ProcessEnv) =>
    start([aptGet.path as string, '-o', `Dir=${box.root}/`, 'update'], { env }),
  "python3-apt's Cache.update()": (_box: GateSandbox, env: NodeJS.ProcessEnv) =>
    start([python.path as string, '-c', UPDATE_PY], { env }),
}

for (const [name, update] of Object.entries(updaters)) {
  describe.skipIf(aptGet.missing || python.missing)(`the APT hook gates ${name}`, () => {
    it('with the marker: the update succeeds', async () => {
      const box = await gateSandbox()
      await touch(box.secure)
      const run = update(box, await aptSandbox(box))
      expect(await run.ended, run.stderr()).toEqual({ code: 0, signal: null })
      expect(run.stderr()).not.toMatch(WARNING)
    })

    it('with only check-done: the update fails and carries our warning', async () => {
      const box = await gateSandbox()
      await touch(box.done)
      const run = update(box, await aptSandbox(box))
      const { code } = await run.ended
      expect(code).not.toBe(0)
      expect(run.stderr()).toMatch(WARNING)
      expect(run.stderr()).toContain(manifest.aptGate.help.policyLine)
      expect(run.stdout() + run.stderr()).toContain('Problem executing scripts APT::Update::Pre-Invoke')
    })

    it('with the package removed but its apt.conf file kept (a conffile): the update runs', async () => {
      const box = await gateSandbox()
      await touch(box.done)
      await rm(join(box.root, manifest.aptGate.files.aptHookScript))
      const run = update(box, await aptSandbox(box))
      expect(await run.ended, run.stderr()).toEqual({ code: 0, signal: null })
      expect(run.stderr()).not.toMatch(WARNING)
    })

    it('with neither: it waits, and proceeds when the marker appears meanwhile', async () => {
      const box = await gateSandbox()
      const run = update(box, await aptSandbox(box))
      await gateWaiting(run.child.pid as number)
      await touch(box.secure)
      expect(await run.ended, run.stderr()).toEqual({ code: 0, signal: null })
    })
  })
}

describe.skipIf(aptGet.missing)('outside a Whonix template', () => {
  it('the hook passes at once without starting the agent, whatever the markers say', async () => {
    for (const profile of ['plain-qube', 'workstation'] as const) {
      const box = await gateSandbox(profile, ['/nonexistent/qubes-whonix-agent'])
      await mkdir(box.dir, { recursive: true })
      await touch(box.done)
      const run = updaters['apt-get update'](box, await aptSandbox(box))
      expect(await run.ended, run.stderr()).toEqual({ code: 0, signal: null })
    }
    // A template that is not Whonix passes in the shell as well.
    const box = await gateSandbox('template-workstation', ['/nonexistent/qubes-whonix-agent'])
    await rm(join(box.root, manifest.paths.workstationMarker))
    const plain = updaters['apt-get update'](box, await aptSandbox(box))
    expect(await plain.ended, plain.stderr()).toEqual({ code: 0, signal: null })
  })
})

describe('one marker rule, and a refusal that always starts with the WARNING line', () => {
  const hookScript = (box: GateSandbox) => join(box.root, manifest.aptGate.files.aptHookScript)
  const HOOK_WARNING =
    "WARNING: Execution of 'apt update' prevented by '/etc/apt/apt.conf.d/40qubes-whonix-apt-gate' because no torified Qubes updates proxy found."

  it('the agent missing (package removed, files kept) and no marker: the hook says the WARNING and exits 255', async () => {
    const box = await gateSandbox('template-workstation', ['/nonexistent/qubes-whonix-agent'])
    const run = start(['/bin/sh', hookScript(box)], { env: box.env })
    expect(await run.ended).toEqual({ code: 255, signal: null })
    expect(run.stderr().split('\n')).toEqual([
      HOOK_WARNING,
      'qubes-whonix-agent: /nonexistent/qubes-whonix-agent is missing: the check cannot be waited for.',
      '',
    ])
  })

  it('a wait that ends in a refusal, stderr not a terminal: the WARNING comes first, no waiting note', async () => {
    const box = await gateSandbox()
    await writeFile(
      box.config,
      (await readFile(box.config, 'utf8')).replace('\n  timeoutMs: 120000\n', '\n  timeoutMs: 1000\n'),
    )
    const run = start(['/bin/sh', hookScript(box)], { env: box.env })
    expect(await run.ended).toEqual({ code: 255, signal: null })
    expect(run.stderr().split('\n')[0]).toMatch(/^WARNING: Execution of '(sh|node) update' prevented by/)
    expect(run.stderr()).toContain('The check gave no result within 1 s')
    expect(run.stderr()).not.toContain('waiting up to')
  })

  it('a directory at the Whonix marker is still a Whonix template: the agent gates as the shell does', async () => {
    const box = await gateSandbox()
    await rm(join(box.root, manifest.paths.workstationMarker))
    await mkdir(join(box.root, manifest.paths.workstationMarker))
    await touch(box.done)
    const run = start(['/bin/sh', hookScript(box)], { env: box.env })
    expect(await run.ended).toEqual({ code: 255, signal: null })
    expect(run.stderr()).toMatch(/^WARNING: /)
  })
})
