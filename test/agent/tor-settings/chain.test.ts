import { spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { spawnCommand, type Runner } from '../../../agent/run'
import { applyTorAction } from '../../../agent/tor-settings/apply'
import { rewriteChain, UnsupportedChain } from '../../../agent/tor-settings/include-chain'
import { gatewayWithTor, tor, unshare } from './helpers'

let work: string
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'qwa-tor-chain-'))
})
afterEach(async () => {
  await rm(work, { recursive: true, force: true })
})

const at = (path: string) => join(work, path)
const put = async (path: string, text: string) => {
  await mkdir(dirname(at(path)), { recursive: true })
  await writeFile(at(path), text)
}
const map = (name: string) => `MapAddress ${name}.example ${name}.to\n`

/**
 * Whonix's shape, with what Tor's %include does that a plain concatenation would get wrong:
 * a glob then a nested directory include, a directory matched by the glob (its files are
 * read), dot files and empty files skipped, a file without extension sorted bytewise after
 * digits. Each file maps its own name, so Tor's dump shows the order it read them in.
 */
async function layOut(): Promise<{ defaults: string; torrc: string; ours: string }> {
  await put('defaults', `DataDirectory ${at('data')}\nSocksPort 0\nDisableNetwork 1\nGeoIPFile ""\nGeoIPv6File ""\n`)
  await put(
    'etc/tor/torrc',
    `# Whonix's files: %include below\n${map('torrc-before')}%include ${at('etc/torrc.d')}/*.conf\n${map('torrc-after')}`,
  )
  await put('etc/torrc.d/10_a.conf', map('a'))
  await put('etc/torrc.d/.hidden.conf', map('hidden'))
  await put('etc/torrc.d/sub.conf/inner', map('inner'))
  await put(
    'etc/torrc.d/95_whonix.conf',
    `${map('whonix-before')}%include ${at('usr/local/etc/torrc.d')}/ # the user's\n${map('whonix-after')}`,
  )
  await writeFile(at('etc/torrc.d/95_whonix.conf'), 'ContactInfo Grüße\n', { flag: 'a' })
  await put('usr/local/etc/torrc.d/30_x.conf', map('x'))
  await put('usr/local/etc/torrc.d/50_user.conf', map('user'))
  await put('usr/local/etc/torrc.d/README', map('readme'))
  await put('usr/local/etc/torrc.d/20_empty.conf', '')
  await put('usr/local/etc/torrc.d/.40_hidden.conf', map('hidden-ours'))
  return {
    defaults: at('defaults'),
    torrc: at('etc/tor/torrc'),
    ours: at('usr/local/etc/torrc.d/40_tor_control_panel.conf'),
  }
}

const runTor = (args: readonly string[], defaults: string, torrc: string) =>
  spawnSync(tor.path as string, [...args, '--defaults-torrc', defaults, '-f', torrc], { encoding: 'utf8' })

/** The options Tor ends up with (those that differ from its defaults), in the order it read them. */
function dump(defaults: string, torrc: string): string {
  const result = runTor(['--dump-config', 'short'], defaults, torrc)
  expect(result.status, result.stdout + result.stderr).toBe(0)
  return result.stdout
    .split('\n')
    .filter((line) => /^(MapAddress|ContactInfo) /.test(line))
    .join('\n')
}

async function rewritten(
  layout: { defaults: string; torrc: string; ours: string },
  candidate: string,
): Promise<{ defaults: string; torrc: string }> {
  const scratch = at('scratch')
  await mkdir(scratch)
  const chain = await rewriteChain(layout.defaults, layout.torrc, layout.ours, scratch)
  for (const [name, text] of chain.files) await writeFile(join(scratch, name), text, 'latin1')
  await writeFile(chain.candidate, candidate)
  return chain
}

async function rewrittenDump(
  layout: { defaults: string; torrc: string; ours: string },
  candidate: string,
): Promise<string> {
  const chain = await rewritten(layout, candidate)
  return dump(chain.defaults, chain.torrc)
}

describe.skipIf(tor.missing)('the rewritten include chain, read by the real tor', () => {
  for (const existing of [true, false]) {
    it(`Tor reads the same options in the same order as with the new file in place (ours ${existing ? 'exists' : 'does not exist yet'})`, async () => {
      const layout = await layOut()
      if (existing) await writeFile(layout.ours, map('old'))
      const rewritten = await rewrittenDump(layout, map('new'))
      await writeFile(layout.ours, map('new'))
      const real = dump(layout.defaults, layout.torrc)
      expect(real).toContain('new.example')
      expect(real).not.toContain('hidden')
      expect(real).toContain('ContactInfo "Gr')
      expect(rewritten).toBe(real)
    })
  }

  it('a copied file holds the very bytes: one Tor refuses (not UTF-8) is refused through its copy too', async () => {
    const layout = await layOut()
    await writeFile(at('etc/torrc.d/95_whonix.conf'), Buffer.from('ContactInfo Gr\xfc\xdfe\n', 'latin1'), { flag: 'a' })
    const chain = await rewritten(layout, map('new'))
    expect(chain.torrc.startsWith(at('scratch'))).toBe(true)
    await writeFile(layout.ours, map('new'))
    const real = runTor(['--verify-config'], layout.defaults, layout.torrc)
    const copied = runTor(['--verify-config'], chain.defaults, chain.torrc)
    expect(real.stdout).toMatch(/ContactInfo config option must be UTF-8/)
    expect(copied.stdout).toMatch(/ContactInfo config option must be UTF-8/)
    expect([real.status, copied.status]).toEqual([1, 1])
  })

  it('forms it does not reproduce are left to the mount namespace: quotes, relative paths, another case, links to files, brackets, continued lines, a chain not reaching ours', async () => {
    const layout = await layOut()
    const torrc = at('etc/tor/torrc')
    const cases: [string, () => Promise<void>][] = [
      ['quoted', () => put('etc/tor/torrc', `%include "${at('etc/torrc.d')}/*.conf"\n`)],
      ['relative', () => put('etc/tor/torrc', '%include torrc.d/\n')],
      ['another case', () => put('etc/tor/torrc', `%INCLUDE ${at('etc/torrc.d')}/*.conf\n`)],
      ['bracket', () => put('etc/tor/torrc', `%include ${at('etc/torrc.d')}/[19]*.conf\n`)],
      [
        'continued',
        () => put('etc/tor/torrc', `MapAddress a.example \\\n a.to\n%include ${at('etc/torrc.d')}/*.conf\n`),
      ],
      [
        'link',
        async () => {
          await put('etc/tor/torrc', `%include ${at('etc/torrc.d')}/*.conf\n`)
          await symlink(at('usr/local/etc/torrc.d/30_x.conf'), at('usr/local/etc/torrc.d/31_link.conf'))
        },
      ],
      ['not reached', () => put('etc/tor/torrc', map('alone'))],
    ]
    for (const [name, arrange] of cases) {
      await arrange()
      await expect(rewriteChain(layout.defaults, torrc, layout.ours, at('scratch')), name).rejects.toBeInstanceOf(
        UnsupportedChain,
      )
    }
  })
})

describe.skipIf(tor.missing || unshare.missing)('which check a change gets', () => {
  it("the gateway's chain: tor alone, one program; a chain it does not reproduce: tor in the mount namespace; Tor takes both", async () => {
    const gateway = await gatewayWithTor()
    const started: string[] = []
    const run: Runner = (command) => {
      started.push(command.argv[0])
      return spawnCommand(command)
    }
    expect(await applyTorAction(gateway.context, { kind: 'enable' }, run)).toMatchObject({
      changed: true,
      reloaded: true,
    })
    expect(started).toEqual([tor.path])
    await writeFile(
      join(gateway.root, 'etc/tor/torrc'),
      `%include "${join(gateway.root, 'usr/local/etc/torrc.d')}/*.conf"\n`,
    )
    expect(await applyTorAction(gateway.context, { kind: 'disable' }, run)).toMatchObject({
      changed: true,
      reloaded: true,
    })
    expect(started).toEqual([tor.path, unshare.path])
  })

  it('a Tor that is not running (the connection opened during the check fails): the verified file stays, the answer says Tor reads it when it starts', async () => {
    const gateway = await gatewayWithTor()
    gateway.tor.child.kill('SIGINT')
    await once(gateway.tor.child, 'exit')
    const result = await applyTorAction(gateway.context, { kind: 'enable' })
    expect(result).toMatchObject({
      changed: true,
      enabled: true,
      reloaded: false,
      note: expect.stringMatching(/^Tor is not reachable \(.*\); it reads the new file when it starts$/),
    })
    expect(readFileSync(gateway.file, 'utf8')).toContain('\nDisableNetwork 0\n')
  })
})
