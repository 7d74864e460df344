import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { maintainerScripts } from '../../packages-meta/maintainer-scripts'
import { AGENT } from '../helpers/cli'
import { tempRoot } from '../helpers/sandbox'

// postinst has the bundle write V8's code cache (for the node of its #!, here the one on
// PATH); prerm takes it away on remove.
describe('the code cache in the maintainer scripts, run for real', () => {
  async function installed() {
    const dir = await tempRoot()
    const bundle = join(dir, 'qubes-whonix-agent.mjs')
    copyFileSync(AGENT, bundle)
    const scripts = maintainerScripts('qwa-test', [], { bundle })
    const run = (name: 'postinst' | 'prerm', action: string, env: Record<string, string> = {}) => {
      const file = join(dir, name)
      writeFileSync(file, scripts[name], { mode: 0o755 })
      return spawnSync('sh', [file, action], {
        encoding: 'utf8',
        env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, ...env },
      })
    }
    return { run, cache: `${bundle}.code-cache` }
  }

  it('postinst configure writes it for this node, prerm remove deletes it', async () => {
    const { run, cache } = await installed()
    expect(run('postinst', 'configure').status).toBe(0)
    expect(readFileSync(cache).toString('latin1').split('\n')[0]).toContain(` ${process.version} `)
    expect(run('prerm', 'upgrade').status).toBe(0)
    expect(existsSync(cache)).toBe(true)
    expect(run('prerm', 'remove').status).toBe(0)
    expect(existsSync(cache)).toBe(false)
  })

  it('under dpkg --root (DPKG_ROOT set) no other node writes one', async () => {
    const { run, cache } = await installed()
    expect(run('postinst', 'configure', { DPKG_ROOT: '/nonexistent' }).status).toBe(0)
    expect(existsSync(cache)).toBe(false)
  })
})
