import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { AGENT } from '../helpers/cli'
import { tempRoot } from '../helpers/sandbox'

// Debian bookworm (Whonix 17) ships nodejs 18.19: the bundle must run there unchanged.
const NODE18 = fileURLToPath(new URL('../../.cache/node18/bin/node', import.meta.url))
const present = existsSync(NODE18)
if (!present && process.env.CI === 'true')
  throw new Error('Node 18 is required in CI: run scripts/fetch-node18.sh (.ci/run does)')
if (!present) console.warn('skipping: Node 18 not fetched (run scripts/fetch-node18.sh)')

const run = (node: string, args: string[]) =>
  spawnSync(node, [AGENT, ...args], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } })

describe.skipIf(!present)('the bundle on Node 18.19 (Debian bookworm)', () => {
  it('answers role, status and simulate exactly as on the current Node', async () => {
    const root = await tempRoot()
    expect(spawnSync(NODE18, ['--version'], { encoding: 'utf8' }).stdout.trim()).toBe('v18.19.0')
    const built = run(NODE18, ['simulate', '--as', 'template-gateway', '--root', root])
    expect(built.status, built.stderr).toBe(0)
    for (const args of [
      ['--root', root, 'role', '--json'],
      ['--root', root, 'status', '--json'],
      ['files', 'list', '--json'],
    ]) {
      const old = run(NODE18, args)
      expect(old.status, old.stderr).toBe(0)
      expect(old.stdout).toBe(run(process.execPath, args).stdout)
    }
  })

  it('reports a usage error the same way', () => {
    const old = run(NODE18, ['nonsense'])
    expect(old.status).toBe(2)
    expect(old.stderr).toMatch(/^qubes-whonix-agent: /)
  })
})
