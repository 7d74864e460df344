import { existsSync } from 'node:fs'
import { once } from 'node:events'
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createContext } from '../../../agent/context'
import { generatedFiles } from '../../../agent/features'
import { writeGeneratedFiles } from '../../../agent/generated/write'
import { hasBlock, withBlock, type BlockSpec } from '../../../agent/tinyproxy/block'
import { applyTinyproxyBlock, inspectTinyproxyBlock } from '../../../agent/tinyproxy/config'
import { runAgent } from '../../helpers/cli'
import { requirePart } from '../../helpers/parts'
import { freePort, simulatedQube, startTinyproxy, tinyproxyConfigLines, waitUntil } from '../updates-proxy/helpers'

const tinyproxy = requirePart('tinyproxy')
const BLOCK: BlockSpec = {
  begin: '# BEGIN ours',
  end: '# END ours',
  lines: ['Upstream socks5 127.0.0.1:9104', 'DefaultErrorFile "/x.html"'],
}
const BASE = 'Port 8082\nAllow 127.0.0.1\n'

describe('tinyproxy block edit', () => {
  it('appends the block once, and a second edit changes nothing', () => {
    const first = withBlock(BASE, BLOCK, 'conf')
    expect(first.changed).toBe(true)
    expect(first.text).toBe(
      `${BASE}# BEGIN ours\nUpstream socks5 127.0.0.1:9104\nDefaultErrorFile "/x.html"\n# END ours\n`,
    )
    const second = withBlock(first.text, BLOCK, 'conf')
    expect(second).toMatchObject({ changed: false, text: first.text })
    expect(hasBlock(first.text, BLOCK)).toBe(true)
    expect(hasBlock(BASE, BLOCK)).toBe(false)
  })

  it('replaces an outdated block in place and keeps everything around it', () => {
    const old = `Port 8082\n# BEGIN ours\nUpstream socks5 127.0.0.1:9050\n# END ours\nAllow 10.137.0.0/16\n`
    const edit = withBlock(old, BLOCK, 'conf')
    expect(edit.text).toBe(
      `Port 8082\n# BEGIN ours\nUpstream socks5 127.0.0.1:9104\nDefaultErrorFile "/x.html"\n# END ours\nAllow 10.137.0.0/16\n`,
    )
  })

  it('adds a final newline to a file without one', () => {
    expect(withBlock('Port 8082', BLOCK, 'conf').text.startsWith('Port 8082\n# BEGIN ours\n')).toBe(true)
  })

  it('refuses a damaged block instead of guessing', () => {
    for (const text of [
      `# BEGIN ours\n${BASE}`,
      `${BASE}# END ours\n`,
      '# BEGIN ours\n# END ours\n# BEGIN ours\n# END ours\n',
      '# END ours\n# BEGIN ours\n',
    ])
      expect(() => withBlock(text, BLOCK, '/etc/tinyproxy/x.conf')).toThrow(/our block is damaged/)
  })

  it('names upstream rules outside the block', () => {
    expect(withBlock(`${BASE}upstream http 10.0.0.1:3128\n`, BLOCK, 'conf').foreignUpstreams).toEqual([
      'upstream http 10.0.0.1:3128',
    ])
  })
})

describe('updates-proxy setup-tinyproxy', () => {
  it("edits a gateway's config once, atomically, keeping its mode; leaves other qubes alone", async () => {
    const qube = await simulatedQube('gateway')
    const config = join(qube.root, 'etc/tinyproxy/tinyproxy-updates.conf')
    await writeGeneratedFiles(qube.root, [
      { path: '/etc/tinyproxy/tinyproxy-updates.conf', kind: 'file', mode: 0o640, content: BASE, purpose: 'test' },
    ])
    await chmod(config, 0o640)
    const args = ['--root', qube.root, '--config', qube.config, 'updates-proxy', 'setup-tinyproxy']
    const first = await runAgent(args)
    expect(first.code).toBe(0)
    expect(first.stdout).toContain('updated')
    const text = await readFile(config, 'utf8')
    expect(text.startsWith(BASE)).toBe(true)
    expect(text).toContain('\nUpstream socks5 127.0.0.1:9104\n')
    expect(text).toContain(
      `\nDefaultErrorFile "${join(qube.root, 'usr/share/qubes-whonix-agent/tinyproxy-error.html')}"\n`,
    )
    expect((await stat(config)).mode & 0o777).toBe(0o640)
    const inode = (await stat(config)).ino
    const second = await runAgent(args)
    expect(second.stdout).toContain('already up to date')
    expect((await stat(config)).ino).toBe(inode)
    expect(await readFile(config, 'utf8')).toBe(text)

    await writeFile(
      config,
      `${text}# BEGIN qubes-whonix-agent: torified updates proxy (generated, edits are replaced)\n`,
    )
    const damaged = await runAgent(args)
    expect(damaged.code).toBe(1)
    expect(damaged.stderr).toContain('our block is damaged')

    const workstation = await simulatedQube('workstation')
    const other = await runAgent([
      '--root',
      workstation.root,
      '--config',
      workstation.config,
      'updates-proxy',
      'setup-tinyproxy',
    ])
    expect(other.code).toBe(0)
    expect(other.stdout).toContain('not a Whonix-Gateway')
  })
})

describe('tinyproxy config bytes', () => {
  it('keeps every byte outside our block (Latin-1, invalid UTF-8) and is not blocked by a stale temporary file', async () => {
    const qube = await simulatedQube('gateway')
    const context = await createContext({ root: qube.root, manifest: qube.manifest, env: { PATH: '' } })
    const config = join(qube.root, 'etc/tinyproxy/tinyproxy-updates.conf')
    const before = Buffer.concat([
      Buffer.from(BASE),
      Buffer.from('# caf'),
      Buffer.from([0xe9]),
      Buffer.from(' (Latin-1), '),
      Buffer.from([0xff, 0xc3, 0x28]),
      Buffer.from(' (not UTF-8), caf\u00e9 (UTF-8)\n'),
    ])
    await mkdir(dirname(config), { recursive: true })
    await writeFile(config, before)
    await chmod(config, 0o640)
    // What a run killed mid-write left with the old fixed name, and one of an earlier version of ours.
    const stale = [
      join(qube.root, `etc/tinyproxy/.tinyproxy-updates.conf.${process.pid}.tmp`),
      join(qube.root, 'etc/tinyproxy/.tinyproxy-updates.conf.qwa-000000000000.tmp'),
    ]
    for (const file of stale) await writeFile(file, 'stale')

    expect((await applyTinyproxyBlock(context)).changed).toBe(true)
    const after = await readFile(config)
    expect(after.subarray(0, before.length).equals(before)).toBe(true)
    expect(after.subarray(before.length).toString('latin1')).toMatch(
      /^# BEGIN qubes-whonix-agent[^\n]*\nUpstream socks5 127\.0\.0\.1:9104\n/,
    )
    expect((await stat(config)).mode & 0o777).toBe(0o640)
    expect(await inspectTinyproxyBlock(context)).toEqual({ configured: true, error: null })
    // Not ours: left alone. Ours, its writer dead: removed by this write.
    expect(await readFile(stale[0] as string, 'utf8')).toBe('stale')
    expect(existsSync(stale[1] as string)).toBe(false)

    // An outdated block in the middle is replaced; the bytes after it stay too.
    const tail = Buffer.concat([Buffer.from('# after '), Buffer.from([0xe9, 0x80]), Buffer.from('\n')])
    const outdated = Buffer.from(
      after.toString('latin1').replace(/Upstream socks5 [^\n]*/, 'Upstream socks5 127.0.0.1:1'),
      'latin1',
    )
    await writeFile(config, Buffer.concat([outdated, tail]))
    expect((await applyTinyproxyBlock(context)).changed).toBe(true)
    expect((await readFile(config)).equals(Buffer.concat([after, tail]))).toBe(true)
    expect((await applyTinyproxyBlock(context)).changed).toBe(false)
  })
})

describe.skipIf(tinyproxy.missing)('a real tinyproxy with our block', () => {
  it('answers its own URL with our error page and sends everything else to the Tor SocksPort', async () => {
    let greeting: Buffer | null = null
    const socks = createServer((socket) => {
      socket.on('error', () => undefined)
      socket.once('data', (chunk: Buffer) => {
        greeting = chunk
        socket.destroy()
      })
    })
    socks.listen(0, '127.0.0.1')
    await once(socks, 'listening')
    onTestFinished(() => void socks.close())
    const socksPort = (socks.address() as { port: number }).port
    const port = await freePort()
    const qube = await simulatedQube('gateway', {
      'updatesProxy.gateway.upstream': `socks5 127.0.0.1:${socksPort}`,
      'updatesProxy.gateway.proxy.port': port,
    })
    // Qubes' config shape: the stock error page, the filter refusing the proxy's own address.
    const config = join(qube.root, 'etc/tinyproxy/tinyproxy-updates.conf')
    await writeGeneratedFiles(qube.root, [
      {
        path: '/etc/tinyproxy/tinyproxy-updates.conf',
        kind: 'file',
        mode: 0o644,
        content: `${(await tinyproxyConfigLines(qube.root, port, '/usr/share/tinyproxy/default.html')).join('\n')}\n`,
        purpose: 'test',
      },
      ...(await generatedFiles(qube.manifest)).filter(
        (file) => file.path === '/usr/share/qubes-whonix-agent/tinyproxy-error.html',
      ),
    ])
    expect(
      (await runAgent(['--root', qube.root, '--config', qube.config, 'updates-proxy', 'setup-tinyproxy'])).code,
    ).toBe(0)
    await startTinyproxy(tinyproxy.path as string, qube.root, qube.manifest, { port, configFile: config })

    const own = await fetch(`http://127.0.0.1:${port}/`)
    expect(await own.text()).toContain('<meta name="application-name" content="tor proxy"/>')
    const health = JSON.parse(
      (await runAgent(['--root', qube.root, '--config', qube.config, '--json', 'updates-proxy', 'health'])).stdout,
    )
    expect(health).toMatchObject({
      schema: 1,
      proxy: { proof: true },
      upstream: { configured: true, line: `socks5 127.0.0.1:${socksPort}` },
      tor: { ready: false },
    })

    const client = connect({ host: '127.0.0.1', port }, () =>
      client.write('GET http://198.51.100.7/debian/ HTTP/1.1\r\nHost: 198.51.100.7\r\n\r\n'),
    )
    client.on('error', () => undefined)
    onTestFinished(() => void client.destroy())
    await waitUntil('tinyproxy to reach the SocksPort', () => greeting !== null, 5000)
    // SOCKS5: version 5 first.
    expect((greeting as unknown as Buffer)[0]).toBe(5)
  })
})
