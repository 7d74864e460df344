import { copyFileSync, lstatSync, mkdirSync, readFileSync, readlinkSync } from 'node:fs'
import { basename, join, posix } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { generatedFiles } from '../../agent/generated/registry'
import { shippedManifest } from '../../agent/manifest/load'
import { requirePart } from '../helpers/parts'
import { debField, relations } from './debs'
import { archiveCache, debianRoot, hostMirror, inRoot, prepareRoot, removeRoot, type Run } from './debian-root'
import { buildLocalDeb } from './local-debs'
import { difference, snapshot, type Snapshot } from './snapshot'

// The agent package installed with apt in a real minbase root of a Debian release, used,
// then purged: what it installs, and what purging leaves (only what Debian policy keeps).

const AGENT = 'qubes-whonix-agent'
const ACCOUNT_FILES = ['/etc/passwd', '/etc/group', '/etc/shadow', '/etc/gshadow']
const STAND_IN_TEXT = '# stand-in: the file qubes-whonix ships here\n'

const lines = (text: string) => text.split('\n').filter(Boolean)

export function installSuite(suite: string, nodeMajor: number): void {
  const parts = [requirePart('debootstrap'), requirePart('unshare', 'util-linux'), requirePart('dpkg-deb', 'dpkg')]
  const notRoot = process.getuid?.() !== 0
  if (notRoot && process.env.CI === 'true') throw new Error('the install test needs root (chroot, mounts)')

  describe.skipIf(parts.some((part) => part.missing) || notRoot)(`${suite}: the agent package in a real Debian root`, () => {
    const manifest = shippedManifest()
    const files = generatedFiles(manifest)
    const { diversions, displaceSuffix } = manifest.packaging
    const user = manifest.updatesProxy.check.user
    let root = ''
    let archives = ''
    let before: Snapshot
    const accountsBefore = new Map<string, string>()
    const debs = inject('debs')
    const inside = (argv: readonly string[], timeoutMs = 300_000): Promise<Run> => inRoot(root, archives, argv, { timeoutMs })
    const mustInside = async (argv: readonly string[], timeoutMs = 300_000): Promise<Run> => {
      const result = await inside(argv, timeoutMs)
      if (result.code !== 0) throw new Error(`in the ${suite} root: ${argv.join(' ')} exited ${result.code}\n${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`)
      return result
    }
    const at = (path: string) => join(root, path)

    beforeAll(async () => {
      ;({ root } = await debianRoot(suite, hostMirror()))
      archives = archiveCache(suite)
      prepareRoot(root)
      mkdirSync(at('/tmp/qwa-debs'), { recursive: true })
      for (const deb of Object.values(debs)) copyFileSync(deb, at(`/tmp/qwa-debs/${basename(deb)}`))
      // qubes-whonix is not in Debian: a stand-in owns the files the agent diverts.
      const standIn = buildLocalDeb(at('/tmp/qwa-debs'), { name: 'qubes-whonix', files: Object.fromEntries(diversions.map((path) => [path, STAND_IN_TEXT])) })
      await mustInside(['apt-get', 'update', '-qq'], 600_000)
      // The agent's dependencies first (from the mirror), so the snapshot below holds them.
      await mustInside(['apt-get', 'satisfy', '-y', '-qq', '--no-install-recommends', debField(debs[AGENT]!, 'Depends')], 900_000)
      await mustInside(['dpkg', '-i', `/tmp/qwa-debs/${basename(standIn)}`])
      before = snapshot(root)
      for (const file of ACCOUNT_FILES) accountsBefore.set(file, readFileSync(at(file), 'utf8'))
      await mustInside(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', `/tmp/qwa-debs/${basename(debs[AGENT]!)}`])
    })
    afterAll(() => {
      if (root) removeRoot(root)
    })

    it(`installs with Debian's nodejs ${nodeMajor}`, async () => {
      expect((await mustInside(['dpkg-query', '-W', '-f', '${Status}', AGENT])).stdout).toBe('install ok installed')
      expect((await mustInside(['node', '--version'])).stdout).toMatch(new RegExp(`^v${nodeMajor}\\.`))
    })

    it('runs `role --json` and `status` from /usr/bin', async () => {
      const role = JSON.parse((await mustInside([manifest.paths.agentProgram, 'role', '--json'])).stdout) as Record<string, unknown>
      expect(role).toMatchObject({ schema: 1, qubes: false, whonix: null })
      const status = await mustInside([manifest.paths.agentProgram, 'status'])
      expect(status.stdout).not.toBe('')
      expect(JSON.parse((await mustInside([manifest.paths.agentProgram, 'status', '--json'])).stdout)).toMatchObject({ schema: 1 })
    })

    it('puts every generated file in place with its mode and content', () => {
      for (const file of files) {
        const path = diversions.includes(file.path) ? `${file.path}${displaceSuffix}` : file.path
        const stats = lstatSync(at(path))
        expect(stats.uid, path).toBe(0)
        if (file.kind === 'symlink') expect(readlinkSync(at(path)), path).toBe(file.target)
        else {
          expect(stats.isFile(), path).toBe(true)
          expect((stats.mode & 0o7777).toString(8), path).toBe(file.mode.toString(8))
          expect(readFileSync(at(path), 'utf8'), path).toBe(file.content)
        }
      }
    })

    it("diverts qubes-whonix's files aside and puts links to ours in their place", async () => {
      const list = (await mustInside(['dpkg-divert', '--list'])).stdout
      for (const path of diversions) {
        expect(list).toContain(`diversion of ${path} to ${path}${displaceSuffix}-orig by ${AGENT}`)
        expect(readFileSync(at(`${path}${displaceSuffix}-orig`), 'utf8')).toBe(STAND_IN_TEXT)
        expect(readlinkSync(at(path))).toBe(posix.basename(`${path}${displaceSuffix}`))
      }
    })

    it(`creates the system user ${user} and enables the units`, async () => {
      const entry = (await mustInside(['getent', 'passwd', user])).stdout.trim().split(':')
      expect(Number(entry[2])).toBeLessThan(1000)
      expect(entry[6]).toMatch(/nologin$/)
      for (const file of files) {
        if (file.kind !== 'file') continue
        const system = posix.dirname(file.path) === manifest.systemd.unitDirectory
        const userUnit = posix.dirname(file.path) === manifest.aptGate.files.userUnitDir
        const wantedBy = /^\[Install\][^[]*?^WantedBy=(.+)$/ms.exec(file.content)?.[1]?.trim().split(/\s+/) ?? []
        if (!system && !userUnit) continue
        for (const target of wantedBy) {
          const link = at(`/etc/systemd/${system ? 'system' : 'user'}/${target}.wants/${posix.basename(file.path)}`)
          expect(lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink(), link).toBe(true)
        }
      }
    })

    it(`systemd-analyze verify of ${suite} accepts every unit`, async () => {
      const names = (dir: string) =>
        files.filter((file) => file.kind === 'file' && posix.dirname(file.path) === dir && /\.(service|socket|timer|path|target)$/.test(file.path)).map((file) => posix.basename(file.path))
      const system = names(manifest.systemd.unitDirectory)
      const userUnits = names(manifest.aptGate.files.userUnitDir)
      expect(system.length).toBeGreaterThan(0)
      const verify = await inside(['systemd-analyze', 'verify', ...system])
      expect(`${verify.stdout}${verify.stderr}`.trim()).toBe('')
      expect(verify.code).toBe(0)
      if (userUnits.length > 0) {
        const script = 'mkdir -p -m 700 /tmp/xdg && XDG_RUNTIME_DIR=/tmp/xdg exec systemd-analyze --user verify "$@"'
        const verifyUser = await inside(['sh', '-c', script, 'verify', ...userUnits])
        expect(`${verifyUser.stdout}${verifyUser.stderr}`.trim()).toBe('')
        expect(verifyUser.code).toBe(0)
      }
    })

    it('resolves the metapackages, with stand-ins for the Qubes packages Debian lacks', async () => {
      for (const name of Object.keys(debs).filter((pkg) => pkg !== AGENT)) {
        const wanted = relations(debField(debs[name]!, 'Depends')).map((relation) => relation.split(' | ')[0]!)
        const policy = (await mustInside(['apt-cache', 'policy', ...wanted])).stdout
        const available = new Set([...policy.matchAll(/^(\S+):\n(?:[ \t]+.*\n)*?[ \t]+Candidate: (?!\(none\))/gm)].map((match) => match[1]))
        const lacking = wanted.filter((pkg) => !available.has(pkg))
        const stubs = lacking.map((pkg) => `/tmp/qwa-debs/${basename(buildLocalDeb(at('/tmp/qwa-debs'), { name: pkg }))}`)
        const apt = await mustInside(['apt-get', 'install', '--simulate', '--no-install-recommends', `/tmp/qwa-debs/${basename(debs[name]!)}`, ...stubs])
        const installs = new Set([...apt.stdout.matchAll(/^Inst (\S+)/gm)].map((match) => match[1]))
        for (const pkg of [name, ...wanted]) expect(installs.has(pkg), `${name}: apt would not install ${pkg}\n${apt.stdout}`).toBe(true)
      }
    })

    it('purge leaves no file, diversion or unit link; only the system user stays, as Debian keeps them', async () => {
      await mustInside(['apt-get', 'purge', '-y', '-qq', AGENT])
      expect((await inside(['dpkg-query', '-W', '-f', '${Status}', AGENT])).stdout).not.toMatch(/installed/)
      expect((await mustInside(['dpkg-divert', '--list'])).stdout).not.toContain(AGENT)
      for (const path of diversions) expect(readFileSync(at(path), 'utf8')).toBe(STAND_IN_TEXT)
      // The account files gain the user's lines and nothing else (sysusers keeps a backup with `-`).
      const accounts = ACCOUNT_FILES.flatMap((file) => [file, `${file}-`])
      for (const file of ACCOUNT_FILES) {
        const added = lines(readFileSync(at(file), 'utf8')).filter((line) => !lines(accountsBefore.get(file)!).includes(line))
        const removed = lines(accountsBefore.get(file)!).filter((line) => !lines(readFileSync(at(file), 'utf8')).includes(line))
        expect(removed, file).toEqual([])
        expect(added.map((line) => line.split(':')[0]), file).toEqual([user])
      }
      const left = difference(before, snapshot(root)).filter((line) => !accounts.some((file) => line.includes(` ${file} `)))
      expect(left).toEqual([])
    })
  })
}
