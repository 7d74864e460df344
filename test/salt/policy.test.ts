import { readFile, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { validatePolicyFile } from '../../rpc/policy'
import { runAgent } from '../helpers/cli'
import { rootPath } from '../../agent/paths'
import { tempRoot } from '../helpers/sandbox'
import { DOM0_GRAINS, STATE_ROOT, debianJinja, render } from './harness'
import { parseStates } from './validate'

const part = debianJinja()

/** The policy state as rendered with the default pillar: where it installs what. */
async function policyState() {
  const answer = await render({ grains: DOM0_GRAINS, sls: ['qubes-whonix-agent.policy'] })
  const [state] = parseStates(answer.sls['qubes-whonix-agent.policy']?.states ?? [], [])
  if (state?.fun !== 'file.managed') throw new Error(`the policy state is ${state?.fun}, not file.managed`)
  const source = String(state.args.get('source')).replace(/^salt:\/\//, '')
  return {
    path: String(state.args.get('name')),
    source: join(STATE_ROOT, source),
    mode: String(state.args.get('mode')),
  }
}

async function generatedPolicy(path: string) {
  const listed = await runAgent(['files', 'list', '--json'])
  expect(listed.code, listed.stderr).toBe(0)
  const paths = (JSON.parse(listed.stdout) as { path: string }[]).map((file) => file.path)
  return paths.includes(path) ? path : null
}

describe.skipIf(part.missing)('the policy file the Salt formula installs', () => {
  it("is a Qubes 4.2 policy under /etc/qubes/policy.d/ with a number before Qubes' 50- and 90- files, accepted by our validator", async () => {
    const { path, source } = await policyState()
    expect(path).toMatch(/^\/etc\/qubes\/policy\.d\/[0-4]\d-[a-z0-9-]+\.policy$/)
    expect(basename(source)).toBe(basename(path))
    const text = await readFile(source, 'utf8')
    expect(text.length).toBeGreaterThan(0)
    expect(validatePolicyFile(text)).toEqual([])
  })

  it("routes the Whonix templates' updates to sys-whonix and nowhere else", async () => {
    const text = await readFile((await policyState()).source, 'utf8')
    const rules = text
      .split('\n')
      .map((line) => line.replace(/#.*$/, '').trim().split(/\s+/).join(' '))
      .filter((rule) => rule.startsWith('qubes.UpdatesProxy '))
    const allow = rules.indexOf('qubes.UpdatesProxy * @tag:whonix-updatevm @default allow target=sys-whonix')
    expect(allow).toBeGreaterThanOrEqual(0)
    expect(rules.indexOf('qubes.UpdatesProxy * @tag:whonix-updatevm @anyvm deny')).toBeGreaterThan(allow)
  })

  it('is byte for byte what the agent generates from qubes.yaml now (npm run salt-policy refreshes it)', async () => {
    const { path, source, mode } = await policyState()
    expect(await generatedPolicy(path), `files list has no ${path}`).toBe(path)
    const out = await tempRoot()
    const written = await runAgent(['files', 'write', out])
    expect(written.code, written.stderr).toBe(0)
    const generated = await readFile(rootPath(out, path))
    expect(
      (await readFile(source)).equals(generated),
      `${source} differs from the generated ${path}: run npm run salt-policy`,
    ).toBe(true)
    expect(((await stat(rootPath(out, path))).mode & 0o7777).toString(8).padStart(4, '0')).toBe(mode)
    const shown = await runAgent(['files', 'show', path])
    expect(shown.stdout).toBe(
      generated.toString('utf8').endsWith('\n') ? generated.toString('utf8') : `${generated.toString('utf8')}\n`,
    )
  })
})
