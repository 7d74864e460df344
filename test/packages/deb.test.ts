import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, posix } from 'node:path'
import { gunzipSync, inflateRawSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generatedFiles, shippedManifest } from '../../agent/features'
import { requirePart } from '../helpers/parts'
import { buildPackages, debControlFile, debEntries, debField, REPO, relations, type DebEntry } from './debs'
import { verifyUnits } from './verify-units'

// The packages as `npm run package` builds them, read back with Debian's own tools.

const AGENT = 'qubes-whonix-agent'
const parts = [
  requirePart('dpkg-buildpackage', 'dpkg-dev'),
  requirePart('dh', 'debhelper'),
  requirePart('lintian'),
  requirePart('apt-get', 'apt'),
  requirePart('systemd-analyze', 'systemd'),
  requirePart('unshare', 'util-linux'),
]
const missing = parts.find((part) => part.missing)

// The metapackages' dependencies as Whonix ships them.
const METAPACKAGE_DEPENDS: Record<string, string[]> = {
  'qubes-whonix-shared-packages-recommended': [
    'qubes-core-agent-passwordless-root | dummy-dependency',
    'qubes-kernel-vm-support',
    'initramfs-tools',
    'qubes-mgmt-salt-vm-connector',
    'qubes-usb-proxy',
    'qubes-input-proxy-sender',
    'qubes-core-agent-thunar',
    'qubes-core-agent-nautilus',
  ],
  'qubes-whonix-gateway-packages-recommended': ['tinyproxy', 'yum', 'yum-utils', 'qubes-core-agent-dom0-updates'],
  'qubes-whonix-workstation-packages-recommended': [
    'qubes-thunderbird',
    'qubes-gpg-split',
    'qubes-pdf-converter',
    'qubes-img-converter',
    'pulseaudio-qubes',
  ],
}

const files = await generatedFiles(shippedManifest())

/**
 * The code inside a bundle: its text, with the npm packages it keeps deflated in its final
 * comment (scripts/cold-modules.mjs) inflated, as the loader does.
 */
function bundledCode(bundle: Buffer): string {
  const text = bundle.toString('utf8')
  const end = text.lastIndexOf(')\n/*')
  const index = JSON.parse(text.slice(text.lastIndexOf(', {', end) + 2, end)) as Record<string, [number, number]>
  const packages = Object.values(index).map(([fromEnd, length]) => {
    const encoded = bundle.subarray(bundle.length - fromEnd, bundle.length - fromEnd + length).toString('latin1')
    return inflateRawSync(Buffer.from(encoded, 'base64')).toString('utf8')
  })
  return [text, ...packages].join('\n')
}

describe.skipIf(missing)('the Debian packages', () => {
  const manifest = shippedManifest()
  const { bundle, diversions, displaceSuffix } = manifest.packaging
  const diverted = new Set(Object.keys(diversions))
  let out: string
  let extracted: string
  let debs: Record<string, string>
  let entries: Map<string, DebEntry>

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'qwa-debs-'))
    debs = await buildPackages(out)
    extracted = join(out, 'extracted')
    execFileSync('dpkg-deb', ['-x', debs[AGENT]!, extracted])
    entries = new Map(debEntries(debs[AGENT]!).map((entry) => [entry.path, entry]))
  }, 600_000)
  afterAll(() => {
    if (out) rmSync(out, { recursive: true, force: true })
  })

  it('builds the agent and the three metapackages, all architecture-independent', () => {
    expect(Object.keys(debs).sort()).toEqual([AGENT, ...Object.keys(METAPACKAGE_DEPENDS)].sort())
    for (const deb of Object.values(debs)) expect(debField(deb, 'Architecture')).toBe('all')
  })

  it('lintian finds no error and no warning, and every override says why', () => {
    // lintian leaves a temporary file behind (mldbm-elf-*): its own TMPDIR goes with `out`.
    const lintianTmp = join(out, 'lintian-tmp')
    mkdirSync(lintianTmp, { recursive: true })
    const lintian = spawnSync(
      'lintian',
      ['--fail-on', 'error,warning', '--display-level', '>=warning', ...Object.values(debs)],
      { encoding: 'utf8', env: { ...process.env, TMPDIR: lintianTmp } },
    )
    expect(lintian.stdout.split('\n').filter((line) => /^[EW]: /.test(line))).toEqual([])
    expect(lintian.status).toBe(0)
    const overrides = readFileSync(join(extracted, 'usr/share/lintian/overrides', AGENT), 'utf8').split('\n')
    overrides.forEach((line, index) => {
      if (line.trim() !== '' && !line.startsWith('#'))
        expect(overrides[index - 1], `override without a comment: ${line}`).toMatch(/^# \S/)
    })
    // lintian took 6 s alone and 51 s on a loaded machine (two copies of the suite side by side).
  }, 180_000)

  it('ships every generated file with its mode, content or link target, owned by root', () => {
    for (const file of files) {
      // A file taken over from another package lies beside its path (postinst links the path to it).
      const path = diverted.has(file.path) ? `${file.path}${displaceSuffix}` : file.path
      const entry = entries.get(path)
      expect(entry, `${path} is not in the package`).toBeDefined()
      expect(entry!.owner).toBe('root/root')
      if (file.kind === 'symlink') {
        expect(entry!.type).toBe('symlink')
        expect(entry!.target).toBe(file.target)
      } else {
        expect(entry!.type).toBe('file')
        expect(entry!.mode.toString(8), path).toBe(file.mode.toString(8))
        expect(readFileSync(join(extracted, path), 'utf8')).toBe(file.content)
      }
    }
  })

  it('ships nothing else but the program, its man page, copyright, changelog and lintian overrides', () => {
    const expected = new Set([
      ...files.map((file) => (diverted.has(file.path) ? `${file.path}${displaceSuffix}` : file.path)),
      bundle,
      `/usr/share/man/man1/${AGENT}.1.gz`,
      `/usr/share/doc/${AGENT}/copyright`,
      `/usr/share/doc/${AGENT}/changelog.gz`,
      `/usr/share/lintian/overrides/${AGENT}`,
    ])
    const shipped = [...entries.values()].filter((entry) => entry.type !== 'dir').map((entry) => entry.path)
    expect(shipped.sort()).toEqual([...expected].sort())
    for (const entry of entries.values())
      if (entry.type === 'dir') expect(entry.mode.toString(8), entry.path).toBe('755')
  })

  it('ships no path another package owns: postinst takes each over, prerm and postrm give it back', () => {
    const postinst = debControlFile(debs[AGENT]!, 'postinst')
    const prerm = debControlFile(debs[AGENT]!, 'prerm')
    const postrm = debControlFile(debs[AGENT]!, 'postrm')
    const paths = Object.keys(diversions)
    expect(paths.length).toBeGreaterThan(0)
    // The qrexec services that Qubes' own packages ship (qubes-core-agent, -networking).
    for (const service of ['qubes.SetDateTime', 'qubes.SyncNtpClock', 'qubes.UpdatesProxy'])
      expect(paths).toContain(posix.join(manifest.paths.qrexecServiceDir, service))
    for (const path of paths) {
      expect(entries.has(path), `${path} is in the package`).toBe(false)
      const ours = files.some((file) => file.path === path) ? `${path}${displaceSuffix}` : "''"
      const args = `${path} ${ours} ${path}${displaceSuffix}-orig`
      expect(postinst).toContain(`\ttake_over ${args}\n`)
      expect(prerm).toContain(`\tgive_back ${args}\n`)
      expect(postrm).toContain(`\tgive_back ${args}\n`)
    }
    expect(postinst).toMatch(/^configure\|abort-remove\|abort-deconfigure\)$/m)
    expect(prerm).toMatch(/^remove\|deconfigure\)$/m)
    expect(postrm).toMatch(/^remove\|abort-install\|disappear\)$/m)
    // Ours comes before debhelper's parts: the links are there when the sockets start, gone before they stop.
    expect(postinst.indexOf('take_over /')).toBeLessThan(postinst.indexOf('# Automatically added by'))
    expect(prerm.indexOf('give_back /')).toBeLessThan(prerm.indexOf('# Automatically added by'))
    expect(debControlFile(debs[AGENT]!, 'preinst')).not.toContain('dpkg-divert')
    for (const script of ['preinst', 'postinst', 'prerm', 'postrm']) {
      const text = debControlFile(debs[AGENT]!, script)
      if (text) expect(spawnSync('sh', ['-n'], { input: text }).status, `${script} is not valid sh`).toBe(0)
    }
  })

  it('marks every regular file under /etc, and nothing else, as a conffile', () => {
    const conffiles = debControlFile(debs[AGENT]!, 'conffiles').split('\n').filter(Boolean).sort()
    const underEtc = [...entries.values()]
      .filter((entry) => entry.type === 'file' && entry.path.startsWith('/etc/'))
      .map((entry) => entry.path)
    expect(conffiles).toEqual(underEtc.sort())
  })

  it('creates the system user before tmpfiles.d gives it a directory, and enables the units', () => {
    const postinst = debControlFile(debs[AGENT]!, 'postinst')
    const sysusers = postinst.indexOf('systemd-sysusers')
    expect(sysusers).toBeGreaterThan(-1)
    const tmpfiles = postinst.indexOf('systemd-tmpfiles')
    if (tmpfiles >= 0) expect(sysusers).toBeLessThan(tmpfiles)
    const units = files.filter(
      (file) =>
        file.kind === 'file' &&
        posix.dirname(file.path) === manifest.systemd.unitDirectory &&
        /\[Install\]/.test(file.content),
    )
    for (const unit of units) expect(postinst).toContain(`deb-systemd-helper enable '${posix.basename(unit.path)}'`)
  })

  it('depends on Debian nodejs as package.json engines says, and on systemd-sysusers', () => {
    const engines = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { engines: { node: string } })
      .engines.node
    const depends = relations(debField(debs[AGENT]!, 'Depends'))
    expect(depends).toContain(`nodejs (${engines.replace('>=', '>= ')})`)
    expect(depends.some((relation) => relation.startsWith('systemd |') && relation.includes('sysusers'))).toBe(true)
  })

  it('ships the program for /usr/bin/node, and the command link runs it', () => {
    const program = readFileSync(join(extracted, bundle), 'utf8')
    expect(program.split('\n')[0]).toBe('#!/usr/bin/node')
    expect(entries.get(bundle)).toMatchObject({ type: 'file', mode: 0o755 })
    const command = join(extracted, manifest.paths.agentProgram)
    mkdirSync(join(out, 'empty-root'), { recursive: true })
    const role = spawnSync(process.execPath, [command, 'role', '--json', '--root', join(out, 'empty-root')], {
      encoding: 'utf8',
    })
    expect(role.stderr).toBe('')
    expect(JSON.parse(role.stdout)).toMatchObject({ schema: 1, qubes: false, whonix: null })
    const listed = JSON.parse(
      execFileSync(process.execPath, [command, 'files', 'list', '--json'], { encoding: 'utf8' }),
    ) as { path: string }[]
    expect(listed.map((file) => file.path)).toEqual(files.map((file) => file.path))
  })

  it('has a man page with every command of the program', async () => {
    const page = gunzipSync(readFileSync(join(extracted, `usr/share/man/man1/${AGENT}.1.gz`))).toString('utf8')
    expect(page).toMatch(/^\.TH QUBES\\-WHONIX\\-AGENT 1 /)
    const { COMMANDS } = await import('../../agent/features')
    for (const word of Object.keys(COMMANDS)) expect(page).toContain(`\\fB${word.replace(/-/g, '\\-')}`)
    for (const file of files) expect(page).toContain(file.path.replace(/-/g, '\\-'))
  })

  it('names in its copyright file every npm package inside the bundle', () => {
    const copyright = readFileSync(join(extracted, `usr/share/doc/${AGENT}/copyright`), 'utf8')
    const bundleText = bundledCode(readFileSync(join(extracted, bundle)))
    expect(copyright).toMatch(/^Format: https:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\/1\.0\//)
    // Packages whose code is recognisable in the bundle by a string of their own.
    for (const [name, marker] of [
      ['yargs', 'yargs'],
      ['yaml', 'YAMLParseError'],
    ] as const) {
      expect(bundleText).toContain(marker)
      expect(copyright).toMatch(new RegExp(`^Comment: ${name} \\d`, 'm'))
    }
  })

  it('systemd-analyze verify accepts every unit it ships (host systemd, package files overlaid in a private mount namespace)', () => {
    const verify = verifyUnits(debs[AGENT]!, manifest.systemd.unitDirectory, manifest.aptGate.files.userUnitDir)
    if (verify === 'unsupported') {
      if (process.env.CI === 'true') throw new Error('needs root and overlayfs in a mount namespace (unshare) in CI')
      console.warn('skipping systemd-analyze verify: needs root and overlayfs in a mount namespace')
      return
    }
    expect(verify.units.length).toBeGreaterThan(0)
    expect(verify.output).toBe('')
    expect(verify.code).toBe(0)
  }, 120_000)

  describe('the metapackages', () => {
    it('carry the dependencies Whonix gives them and ship no files', () => {
      for (const [name, depends] of Object.entries(METAPACKAGE_DEPENDS)) {
        const deb = debs[name]!
        expect(debField(deb, 'Section')).toBe('metapackages')
        expect(relations(debField(deb, 'Depends'))).toEqual(depends)
        expect(debField(deb, 'Description')).toMatch(/safe to remove if you know what you are doing/)
        const shipped = debEntries(deb)
          .filter((entry) => entry.type !== 'dir')
          .map((entry) => entry.path)
        expect(shipped.sort()).toEqual([`/usr/share/doc/${name}/changelog.gz`, `/usr/share/doc/${name}/copyright`])
      }
    })

    it("apt (dry run) finds unmet exactly the dependencies this system's archive lacks", () => {
      const names = Object.values(METAPACKAGE_DEPENDS).flatMap((depends) =>
        depends.flatMap((relation) => relation.split(' | ')),
      )
      const policy = spawnSync('apt-cache', ['policy', ...names], { encoding: 'utf8' }).stdout
      // One block per package apt knows: `name:` then `  Candidate: VERSION` or `(none)`.
      const candidates = new Set(
        [...policy.matchAll(/^(\S+):\n(?:[ \t]+.*\n)*?[ \t]+Candidate: (?!\(none\))/gm)].map((match) => match[1]),
      )
      const known = (name: string) => candidates.has(name)
      for (const [name, depends] of Object.entries(METAPACKAGE_DEPENDS)) {
        const apt = spawnSync('apt-get', ['install', '--simulate', '--no-install-recommends', debs[name]!], {
          encoding: 'utf8',
        })
        const unmet = [...apt.stdout.matchAll(/Depends: (\S+) but it is not installable/g)].map((match) => match[1])
        const orAlternatives = [...apt.stdout.matchAll(/or\s+(\S+) but it is not installable/g)].map(
          (match) => match[1],
        )
        const expected = depends.filter((relation) => !relation.split(' | ').some(known))
        expect(unmet, apt.stdout).toEqual(expected.map((relation) => relation.split(' | ')[0]))
        expect(orAlternatives).toEqual(expected.flatMap((relation) => relation.split(' | ').slice(1)))
        if (expected.length === 0) expect(apt.status).toBe(0)
      }
    }, 180_000)
  })
})
