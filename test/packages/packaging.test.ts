import { execFileSync, spawnSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join, posix } from 'node:path'
import { describe, expect, it } from 'vitest'
import { textFile, symlink } from '../../agent/generated/file'
import { shippedManifest } from '../../agent/features'
import { packagingFiles } from '../../agent/packaging/files'
import { bundledPackageDirs, declaredLicense } from '../../packages-meta/bundled'
import { changelogDate, renderChangelog } from '../../packages-meta/changelog'
import { descriptionField, fill, nodejsRelation } from '../../packages-meta/control'
import {
  copyrightLines,
  identifyLicense,
  licenseBody,
  licensesOf,
  renderCopyright,
} from '../../packages-meta/copyright'
import { helpSections } from '../../packages-meta/help-text'
import { maintainerScripts, planDiversions, shellQuote } from '../../packages-meta/maintainer-scripts'
import { roffText } from '../../packages-meta/man-page'
import { modesFile, renderRules, systemUnits } from '../../packages-meta/rules'
import { requirePart } from '../helpers/parts'
import { tempRoot } from '../helpers/sandbox'
import { parseSources } from './debian-root'
import { difference, snapshot } from './snapshot'

// The pure parts of packaging (packages-meta/), and the helpers of the install test.

describe('packaging files in the registry', () => {
  const manifest = shippedManifest()
  const files = packagingFiles(manifest)

  it('links the command to the bundle with a relative target that resolves to it', () => {
    const link = files.find((file) => file.path === manifest.paths.agentProgram)
    expect(link?.kind).toBe('symlink')
    const target = link?.kind === 'symlink' ? link.target : ''
    expect(target.startsWith('/')).toBe(false)
    expect(posix.resolve(posix.dirname(manifest.paths.agentProgram), target)).toBe(manifest.packaging.bundle)
  })

  it('declares the check user for systemd-sysusers and keeps the replace-ips cache as a bind-dir', () => {
    const sysusers = files.find((file) => file.path === manifest.packaging.sysusersFile)
    expect(sysusers?.kind === 'file' && sysusers.content).toMatch(
      new RegExp(`^u ${manifest.updatesProxy.check.user} - "[^"]+" -$`, 'm'),
    )
    const bind = files.find((file) => file.path === manifest.packaging.bindDirsFile)
    expect(bind?.kind === 'file' && bind.content).toContain(`binds+=( '${manifest.replaceIps.cacheDirectory}' )`)
  })
})

describe('control data', () => {
  it('fills descriptions within 80 columns, paragraphs apart', () => {
    const long = 'word '.repeat(60).trim()
    for (const line of fill(long)) expect(line.length).toBeLessThanOrEqual(79)
    expect(fill(long).join(' ')).toBe(long)
    expect(descriptionField('short', ['one two', 'three'])).toBe('Description: short\n one two\n .\n three')
    expect(() => descriptionField('x'.repeat(80), [])).toThrow(/synopsis/)
  })

  it("turns package.json's engines into a relation on Debian's nodejs", () => {
    expect(nodejsRelation('>=18.13')).toBe('nodejs (>= 18.13)')
    expect(() => nodejsRelation('^18')).toThrow(/engines/)
  })

  it('writes a changelog that dpkg-parsechangelog reads back', async () => {
    expect(changelogDate(0)).toBe('Thu, 01 Jan 1970 00:00:00 +0000')
    const dir = await tempRoot()
    const text = renderChangelog({
      source: 'qubes-whonix-agent',
      version: '1.2.3',
      maintainer: 'A B <a@example.org>',
      changes: ['Built.'],
      time: 1_700_000_000,
    })
    writeFileSync(join(dir, 'changelog'), text)
    const parsed = execFileSync('dpkg-parsechangelog', ['-l', join(dir, 'changelog')], { encoding: 'utf8' })
    expect(parsed).toMatch(/^Version: 1\.2\.3$/m)
    expect(parsed).toMatch(/^Timestamp: 1700000000$/m)
  })
})

describe('debian/rules', () => {
  const unit = (name: string, body: string) => textFile(`/lib/systemd/system/${name}`, body, 'test')

  it('finds the units, tells oneshot ones, and leaves drop-ins and templates out', () => {
    const files = [
      unit('a.service', '[Service]\nType=oneshot\n'),
      unit('b.socket', '[Socket]\nListenStream=/run/b\n'),
      unit('c@.service', '[Service]\n'),
      textFile('/lib/systemd/system/d.service.d/x.conf', '[Service]\n', 'drop-in'),
      symlink('/etc/qubes-rpc/x', '/run/x', 'link'),
    ]
    expect(systemUnits(files, '/lib/systemd/system')).toEqual([
      { name: 'a.service', oneshot: true },
      { name: 'b.socket', oneshot: false },
    ])
    const rules = renderRules('pkg', systemUnits(files, '/lib/systemd/system'))
    expect(rules).toContain('dh_installsystemd -ppkg --no-start --restart-after-upgrade a.service\n')
    expect(rules).toContain('dh_installsystemd -ppkg b.socket\n')
    expect(renderRules('pkg', [])).not.toContain('dh_installsystemd -p')
    expect(modesFile(files)).toBe(
      '0644 lib/systemd/system/a.service\n0644 lib/systemd/system/b.socket\n0644 lib/systemd/system/c@.service\n0644 lib/systemd/system/d.service.d/x.conf\n',
    )
  })
})

describe('maintainer scripts', () => {
  it('quotes any path into one sh word', () => {
    for (const path of ["/etc/it's here", '/etc/a b', '/etc/$(reboot)', '/etc/`x`', '/etc/plain.conf', '/etc/"q"\\']) {
      expect(execFileSync('sh', ['-c', `printf '%s' ${shellQuote(path)}`], { encoding: 'utf8' })).toBe(path)
    }
  })

  it('keeps our copy beside a diverted path only when we ship that path', () => {
    expect(planDiversions({ '/etc/a': 'pa', '/etc/b': 'pb' }, '.x', new Set(['/etc/a']))).toEqual([
      { path: '/etc/a', from: 'pa', original: '/etc/a.x-orig', ours: '/etc/a.x' },
      { path: '/etc/b', from: 'pb', original: '/etc/b.x-orig', ours: null },
    ])
  })

  it('writes no diversion code when there is nothing to divert', () => {
    const scripts = maintainerScripts('pkg', [])
    for (const text of Object.values(scripts)) expect(text).toBe('#!/bin/sh\nset -e\n\n\n#DEBHELPER#\n\nexit 0\n')
  })
})

// The generated scripts run for real (before debhelper fills #DEBHELPER#, which sh reads as a
// comment) with the real dpkg-divert, on a scratch dpkg database: `dpkg --root` sets DPKG_ROOT
// for maintainer scripts, and dpkg-divert then keeps its database under it.
describe.skipIf(requirePart('dpkg-divert', 'dpkg').missing)(
  'the diversion scripts, run with dpkg-divert under DPKG_ROOT',
  () => {
    const PKG = 'qwa-test'
    const plan = planDiversions(
      {
        '/etc/conf.d/a.conf': 'their-conf', // a file of theirs, ours beside it
        '/etc/rpc/svc': 'their-rpc', // their link (as qubes.UpdatesProxy -> /dev/tcp/...), ours a link too
        '/etc/rpc/held': 'their-rpc', // diverted already by a displacing package (as qubes-whonix does)
        '/etc/rpc/local': 'their-rpc', // diverted already by the administrator
        '/etc/hide.conf': 'their-conf', // theirs only moved aside: we ship nothing there
      },
      '.qwa',
      new Set(['/etc/conf.d/a.conf', '/etc/rpc/svc', '/etc/rpc/held', '/etc/rpc/local']),
    )
    const scripts = maintainerScripts(PKG, plan)

    async function scratch() {
      const root = await tempRoot()
      mkdirSync(join(root, 'var/lib/dpkg/info'), { recursive: true })
      writeFileSync(join(root, 'var/lib/dpkg/status'), '')
      mkdirSync(join(root, 'etc/conf.d'), { recursive: true })
      mkdirSync(join(root, 'etc/rpc'))
      // Theirs.
      writeFileSync(join(root, 'etc/conf.d/a.conf'), 'theirs\n')
      symlinkSync('/dev/tcp/127.0.0.1/8082', join(root, 'etc/rpc/svc'))
      writeFileSync(join(root, 'etc/rpc/held'), 'theirs\n')
      writeFileSync(join(root, 'etc/rpc/local'), 'theirs\n')
      writeFileSync(join(root, 'etc/hide.conf'), 'theirs\n')
      // What dpkg unpacked of ours.
      writeFileSync(join(root, 'etc/conf.d/a.conf.qwa'), 'ours\n')
      symlinkSync('/run/rpc/svc', join(root, 'etc/rpc/svc.qwa'))
      symlinkSync('/run/rpc/held', join(root, 'etc/rpc/held.qwa'))
      symlinkSync('/run/rpc/local', join(root, 'etc/rpc/local.qwa'))
      // The displacing package, config-package-dev style, and the administrator's own.
      divert(root, [
        '--package',
        'displacer',
        '--add',
        '--rename',
        '--divert',
        '/etc/rpc/held.displacer-orig',
        '/etc/rpc/held',
      ])
      symlinkSync('held.displacer', join(root, 'etc/rpc/held'))
      divert(root, ['--local', '--add', '--rename', '--divert', '/etc/rpc/local.admin', '/etc/rpc/local'])
      return root
    }
    const divert = (root: string, args: readonly string[]) =>
      execFileSync('dpkg-divert', args, {
        env: { ...process.env, DPKG_ROOT: root },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    const diversionsOf = (root: string) => divert(root, ['--list']).split('\n').filter(Boolean).sort()
    const run = (root: string, script: keyof typeof scripts, action: string) => {
      const result = spawnSync('sh', ['-c', scripts[script], script, action], {
        env: { ...process.env, DPKG_ROOT: root },
        encoding: 'utf8',
      })
      expect(result.status, `${script} ${action}: ${result.stderr}`).toBe(0)
      return result.stderr.split('\n').filter(Boolean)
    }
    const at = (root: string, path: string) => join(root, path)
    const others = [
      'diversion of /etc/rpc/held to /etc/rpc/held.displacer-orig by displacer',
      'local diversion of /etc/rpc/local to /etc/rpc/local.admin',
    ]

    it('postinst configure diverts theirs aside, links each path to ours, and leaves paths diverted by others alone, one line each', async () => {
      const root = await scratch()
      const said = run(root, 'postinst', 'configure')
      expect(said).toEqual([
        `${PKG}: not taking over /etc/rpc/held, which displacer diverts already; ours stays at /etc/rpc/held.qwa`,
        `${PKG}: not taking over /etc/rpc/local, which the administrator (a local diversion) diverts already; ours stays at /etc/rpc/local.qwa`,
      ])
      expect(diversionsOf(root)).toEqual(
        [
          ...others,
          `diversion of /etc/conf.d/a.conf to /etc/conf.d/a.conf.qwa-orig by ${PKG}`,
          `diversion of /etc/rpc/svc to /etc/rpc/svc.qwa-orig by ${PKG}`,
          `diversion of /etc/hide.conf to /etc/hide.conf.qwa-orig by ${PKG}`,
        ].sort(),
      )
      expect(readlinkSync(at(root, 'etc/conf.d/a.conf'))).toBe('a.conf.qwa')
      expect(readFileSync(at(root, 'etc/conf.d/a.conf'), 'utf8')).toBe('ours\n')
      expect(readFileSync(at(root, 'etc/conf.d/a.conf.qwa-orig'), 'utf8')).toBe('theirs\n')
      // The path resolves, link by link, to our link to the socket.
      expect(readlinkSync(at(root, 'etc/rpc/svc'))).toBe('svc.qwa')
      expect(readlinkSync(at(root, 'etc/rpc/svc.qwa'))).toBe('/run/rpc/svc')
      expect(readlinkSync(at(root, 'etc/rpc/svc.qwa-orig'))).toBe('/dev/tcp/127.0.0.1/8082')
      expect(existsSync(at(root, 'etc/hide.conf'))).toBe(false)
      expect(readFileSync(at(root, 'etc/hide.conf.qwa-orig'), 'utf8')).toBe('theirs\n')
      // The others' paths as they were.
      expect(readlinkSync(at(root, 'etc/rpc/held'))).toBe('held.displacer')
      expect(readFileSync(at(root, 'etc/rpc/held.displacer-orig'), 'utf8')).toBe('theirs\n')
      expect(readFileSync(at(root, 'etc/rpc/local.admin'), 'utf8')).toBe('theirs\n')
      expect(existsSync(at(root, 'etc/rpc/local'))).toBe(false)
    })

    it('configuring again (an upgrade) changes nothing', async () => {
      const root = await scratch()
      run(root, 'postinst', 'configure')
      const before = snapshot(root, ['/var'])
      const diversions = diversionsOf(root)
      expect(run(root, 'postinst', 'configure')).toHaveLength(2)
      expect(difference(before, snapshot(root, ['/var']))).toEqual([])
      expect(diversionsOf(root)).toEqual(diversions)
    })

    it('prerm remove puts theirs back and leaves the others alone; postrm remove after it is a no-op', async () => {
      const root = await scratch()
      const before = snapshot(root, ['/var'])
      run(root, 'postinst', 'configure')
      expect(run(root, 'prerm', 'remove')).toEqual([])
      expect(diversionsOf(root)).toEqual(others)
      expect(difference(before, snapshot(root, ['/var']))).toEqual([])
      expect(run(root, 'postrm', 'remove')).toEqual([])
      expect(difference(before, snapshot(root, ['/var']))).toEqual([])
      expect(readlinkSync(at(root, 'etc/rpc/svc'))).toBe('/dev/tcp/127.0.0.1/8082')
    })

    it('postrm alone (the package disappeared) puts theirs back too', async () => {
      const root = await scratch()
      const before = snapshot(root, ['/var'])
      run(root, 'postinst', 'configure')
      expect(run(root, 'postrm', 'disappear')).toEqual([])
      expect(diversionsOf(root)).toEqual(others)
      expect(difference(before, snapshot(root, ['/var']))).toEqual([])
    })

    it('keeps a diversion whose path an administrator has replaced, and says so', async () => {
      const root = await scratch()
      run(root, 'postinst', 'configure')
      rmSync(at(root, 'etc/conf.d/a.conf'))
      writeFileSync(at(root, 'etc/conf.d/a.conf'), 'the administrator\n')
      expect(run(root, 'prerm', 'remove')).toEqual([
        `${PKG}: keeping the diversion of /etc/conf.d/a.conf: something other than our link lies there`,
      ])
      expect(diversionsOf(root)).toContain(`diversion of /etc/conf.d/a.conf to /etc/conf.d/a.conf.qwa-orig by ${PKG}`)
      expect(readFileSync(at(root, 'etc/conf.d/a.conf'), 'utf8')).toBe('the administrator\n')
      expect(readFileSync(at(root, 'etc/conf.d/a.conf.qwa-orig'), 'utf8')).toBe('theirs\n')
    })

    it('turns a copy of ours at the path (an obsolete conffile of an earlier version) into the link, and leaves any other file there', async () => {
      const root = await scratch()
      run(root, 'postinst', 'configure')
      rmSync(at(root, 'etc/conf.d/a.conf'))
      writeFileSync(at(root, 'etc/conf.d/a.conf'), 'ours\n')
      expect(run(root, 'postinst', 'configure')).toHaveLength(2)
      expect(readlinkSync(at(root, 'etc/conf.d/a.conf'))).toBe('a.conf.qwa')
      rmSync(at(root, 'etc/conf.d/a.conf'))
      writeFileSync(at(root, 'etc/conf.d/a.conf'), 'the administrator\n')
      expect(run(root, 'postinst', 'configure')).toContain(
        `${PKG}: /etc/conf.d/a.conf is not the link to a.conf.qwa it should be; left as it is`,
      )
      expect(readFileSync(at(root, 'etc/conf.d/a.conf'), 'utf8')).toBe('the administrator\n')
    })

    it('takes a path over once its holder has let it go (the next configure, as on an upgrade)', async () => {
      const root = await scratch()
      run(root, 'postinst', 'configure')
      rmSync(at(root, 'etc/rpc/held'))
      divert(root, [
        '--package',
        'displacer',
        '--remove',
        '--rename',
        '--divert',
        '/etc/rpc/held.displacer-orig',
        '/etc/rpc/held',
      ])
      expect(run(root, 'postinst', 'configure')).toHaveLength(1)
      expect(diversionsOf(root)).toContain(`diversion of /etc/rpc/held to /etc/rpc/held.qwa-orig by ${PKG}`)
      expect(readlinkSync(at(root, 'etc/rpc/held'))).toBe('held.qwa')
      expect(readFileSync(at(root, 'etc/rpc/held.qwa-orig'), 'utf8')).toBe('theirs\n')
    })

    it('does nothing on the actions that are not its own', async () => {
      const root = await scratch()
      const before = snapshot(root, ['/var'])
      for (const [script, action] of [
        ['postinst', 'abort-upgrade'],
        ['prerm', 'upgrade'],
        ['postrm', 'upgrade'],
        ['postrm', 'purge'],
      ] as const) {
        expect(run(root, script, action)).toEqual([])
        expect(difference(before, snapshot(root, ['/var'])), `${script} ${action}`).toEqual([])
      }
    })
  },
)

describe('debian/copyright', () => {
  it('maps npm licence spellings to DEP-5 names and refuses unknown ones', () => {
    expect(licensesOf('MIT').map((license) => license.name)).toEqual(['Expat'])
    expect(licensesOf('(MIT OR Apache2)').map((license) => license.name)).toEqual(['Expat', 'Apache-2.0'])
    expect(() => licensesOf('WTFPL')).toThrow(/no DEP-5 mapping/)
    expect(declaredLicense({ license: { type: 'MIT/X11' } })).toBe('MIT/X11')
    expect(declaredLicense({ licenses: ['MIT', { type: 'Apache2' }] })).toBe('MIT OR Apache2')
    expect(declaredLicense({})).toBeUndefined()
    expect(identifyLicense('   Apache License\n   Version 2.0, January 2004')).toBe('Apache-2.0')
    expect(() => identifyLicense('all rights reserved')).toThrow()
  })

  it('takes copyright lines out of the licence text', () => {
    const text =
      'The MIT License (MIT)\n\nCopyright (c) 2015 Someone <s@example.org>\n\nPermission is hereby granted, free of charge...\n'
    expect(copyrightLines(text)).toEqual(['2015 Someone <s@example.org>'])
    expect(licenseBody(text)).toEqual(['Permission is hereby granted, free of charge...'])
    expect(copyrightLines('no such line', 'An Author')).toEqual(['An Author'])
  })

  it('lists each bundled package once with every place npm put it', () => {
    const metafile = {
      outputs: {
        'x.mjs': {
          inputs: {
            'node_modules/a/index.js': { bytesInOutput: 10 },
            'node_modules/b/node_modules/a/lib/x.js': { bytesInOutput: 5 },
            'node_modules/@s/c/index.js': { bytesInOutput: 1 },
            'node_modules/d/types.js': { bytesInOutput: 0 },
            'agent/main.ts': { bytesInOutput: 100 },
          },
        },
      },
    }
    expect(bundledPackageDirs(metafile)).toEqual([
      'node_modules/@s/c',
      'node_modules/a',
      'node_modules/b/node_modules/a',
    ])
    const copyright = renderCopyright({
      source: 's',
      project: { copyright: '2026 us', license: 'AGPL-3.0-or-later' },
      bundlePath: '/usr/lib/s/s.mjs',
      bundled: [
        {
          dirs: ['node_modules/a', 'node_modules/b/node_modules/a'],
          name: 'a',
          version: '1.0.0',
          license: 'ISC',
          copyright: ['2020 A'],
          licenseText:
            'ISC License\n\nCopyright (c) 2020 A\n\nPermission to use, copy, modify, and/or distribute this software',
        },
      ],
    })
    expect(copyright).toContain(
      'Files: node_modules/a/*\n       node_modules/b/node_modules/a/*\nCopyright: 2020 A\nLicense: ISC\nComment: a 1.0.0, bundled into usr/lib/s/s.mjs',
    )
    expect(copyright).toMatch(/^License: ISC\n Permission to use/m)
    expect(copyright).toMatch(/^License: AGPL-3\+\n This program is free software/m)
  })
})

describe('man page', () => {
  it('reads yargs help into entries, wrapped lines joined', () => {
    const help = [
      'prog cmd',
      '',
      'Does things',
      '',
      'Options:',
      '      --root     Re-root every system path under DIR (a simulated qube)      [string] [default: "/"]',
      '  -v, --verbose  Say more                                                                  [boolean]',
      '      --long     the first part of a long text that yargs wraps',
      '                 onto a second line                                                        [string]',
      '',
    ].join('\n')
    expect(helpSections(help).get('Options')).toEqual([
      { name: '--root', text: 'Re-root every system path under DIR (a simulated qube) [string] [default: "/"]' },
      { name: '-v, --verbose', text: 'Say more [boolean]' },
      { name: '--long', text: 'the first part of a long text that yargs wraps onto a second line [string]' },
    ])
  })

  it('escapes text for roff: no control line, backslashes and hyphens kept', () => {
    expect(roffText(".TH injected\n'also\nC:\\path --x")).toBe("\\&.TH injected\n\\&'also\nC:\\epath \\-\\-x")
  })
})

describe('install-test helpers', () => {
  it('reads apt sources in both formats', () => {
    expect(
      parseSources(
        '# c\ndeb [signed-by=/k.gpg] http://m.example/debian bookworm main\ndeb-src http://s bookworm main\n',
        false,
      ),
    ).toEqual([{ uri: 'http://m.example/debian', suites: ['bookworm'] }])
    const deb822 =
      'Types: deb\nURIs: http://m.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://off.example\nSuites: bookworm\nEnabled: no\n'
    expect(parseSources(deb822, true)).toEqual([
      { uri: 'http://m.example/debian', suites: ['bookworm', 'bookworm-updates'] },
    ])
  })

  it('sees files added, removed and changed, modes and links included', async () => {
    const root = await tempRoot()
    mkdirSync(join(root, 'etc'))
    writeFileSync(join(root, 'etc/a'), 'one')
    writeFileSync(join(root, 'etc/b'), 'two')
    writeFileSync(join(root, 'etc/mode'), 'x')
    const before = snapshot(root)
    writeFileSync(join(root, 'etc/a'), 'changed')
    rmSync(join(root, 'etc/b'))
    chmodSync(join(root, 'etc/mode'), 0o600)
    symlinkSync('a', join(root, 'etc/link'))
    const lines = difference(before, snapshot(root))
    expect(lines.map((line) => line.split(' ').slice(0, 2).join(' '))).toEqual([
      'added /etc/link',
      'changed /etc/a',
      'changed /etc/mode',
      'removed /etc/b',
    ])
  })
})
