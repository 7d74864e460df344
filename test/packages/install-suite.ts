import { copyFileSync, lstatSync, mkdirSync, readFileSync, readlinkSync } from 'node:fs'
import { basename, join, posix } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { generatedFiles, shippedManifest } from '../../agent/features'
import { requirePart } from '../helpers/parts'
import { debField, relations } from './debs'
import { archiveCache, debianRoot, hostMirror, inRoot, prepareRoot, removeRoot, type Run } from './debian-root'
import { buildLocalDeb, type LocalDeb, type LocalFile } from './local-debs'
import { difference, snapshot, type Snapshot } from './snapshot'

// The agent package installed with apt in a real minbase root of a Debian release, used,
// then purged: what it installs, and what purging leaves (only what Debian policy keeps).

const AGENT = 'qubes-whonix-agent'
const ACCOUNT_FILES = ['/etc/passwd', '/etc/group', '/etc/shadow', '/etc/gshadow']
// qubes-whonix displaces this one itself (config-package-dev): dpkg-divert to PATH.anondist-orig,
// PATH a link to its PATH.anondist. dpkg allows one diversion per path, so ours must leave it be.
const WHONIX = 'qubes-whonix'
const WHONIX_SUFFIX = '.anondist'

const lines = (text: string) => text.split('\n').filter(Boolean)

/** What the stand-in of the package `from` ships at `path`: as Qubes, qubes.UpdatesProxy is a TCP service link, other services are programs. */
function standInFile(path: string, from: string): Exclude<LocalFile, string> {
  if (path.endsWith('/qubes-rpc/qubes.UpdatesProxy')) return { link: '/dev/tcp/127.0.0.1/8082' }
  return { content: `# stand-in: the file ${from} ships here\n`, mode: path.includes('/qubes-rpc/') ? 0o755 : 0o644 }
}

/**
 * Stand-ins for the packages whose files the agent takes over (qubes.yaml packaging.diversions
 * names them), the qubes-whonix one also displacing `held` as the real one does.
 */
function standIns(diversions: Readonly<Record<string, string>>, held: string): LocalDeb[] {
  const owners = new Map<string, Record<string, LocalFile>>()
  for (const [path, from] of Object.entries(diversions))
    owners.set(from, { ...owners.get(from), [path]: standInFile(path, from) })
  const divertedBy = (name: string) => `"$(dpkg-divert --listpackage ${held})" = ${name}`
  const whonixScripts = {
    postinst: [
      '#!/bin/sh',
      'set -e',
      'if [ "$1" = configure ]; then',
      `\t[ ${divertedBy(WHONIX)} ] || dpkg-divert --package ${WHONIX} --add --rename --divert ${held}${WHONIX_SUFFIX}-orig ${held}`,
      `\t[ -L ${held} ] || ln -s ${posix.basename(held)}${WHONIX_SUFFIX} ${held}`,
      'fi',
      '',
    ].join('\n'),
    prerm: [
      '#!/bin/sh',
      'set -e',
      `if [ "$1" = remove ] && [ ${divertedBy(WHONIX)} ]; then`,
      `\trm -f ${held}`,
      `\tdpkg-divert --package ${WHONIX} --remove --rename --divert ${held}${WHONIX_SUFFIX}-orig ${held}`,
      'fi',
      '',
    ].join('\n'),
  }
  const whonix = {
    ...owners.get(WHONIX),
    [`${held}${WHONIX_SUFFIX}`]: { content: "# stand-in: qubes-whonix's own service\n", mode: 0o755 },
  }
  owners.delete(WHONIX)
  // Qubes' packages first: qubes-whonix diverts a file of theirs.
  return [
    ...[...owners].map(([name, files]) => ({ name, files })),
    { name: WHONIX, files: whonix, scripts: whonixScripts },
  ]
}

const shippedFiles = await generatedFiles(shippedManifest())

export function installSuite(suite: string, nodeMajor: number): void {
  const parts = [requirePart('debootstrap'), requirePart('unshare', 'util-linux'), requirePart('dpkg-deb', 'dpkg')]
  const notRoot = process.getuid?.() !== 0
  if (notRoot && process.env.CI === 'true') throw new Error('the install test needs root (chroot, mounts)')

  describe.skipIf(parts.some((part) => part.missing) || notRoot)(
    `${suite}: the agent package in a real Debian root`,
    () => {
      const manifest = shippedManifest()
      const files = shippedFiles
      const { diversions, displaceSuffix } = manifest.packaging
      const diverted = new Set(Object.keys(diversions))
      const held = posix.join(manifest.paths.qrexecServiceDir, 'qubes.SetDateTime')
      const ours = [...diverted].filter((path) => path !== held)
      const user = manifest.updatesProxy.check.user
      let installOutput = ''
      let root = ''
      let archives = ''
      let before: Snapshot
      const accountsBefore = new Map<string, string>()
      const debs = inject('debs')
      const inside = (argv: readonly string[], timeoutMs = 300_000): Promise<Run> =>
        inRoot(root, archives, argv, { timeoutMs })
      const mustInside = async (argv: readonly string[], timeoutMs = 300_000): Promise<Run> => {
        const result = await inside(argv, timeoutMs)
        if (result.code !== 0)
          throw new Error(
            `in the ${suite} root: ${argv.join(' ')} exited ${result.code}\n${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`,
          )
        return result
      }
      const at = (path: string) => join(root, path)

      beforeAll(async () => {
        ;({ root } = await debianRoot(suite, hostMirror()))
        archives = archiveCache(suite)
        prepareRoot(root)
        mkdirSync(at('/tmp/qwa-debs'), { recursive: true })
        for (const deb of Object.values(debs)) copyFileSync(deb, at(`/tmp/qwa-debs/${basename(deb)}`))
        // Qubes' packages and qubes-whonix are not in Debian: stand-ins own the files the agent takes over.
        if (!diverted.has(held)) throw new Error(`${held} is not in qubes.yaml packaging.diversions`)
        const owners = standIns(diversions, held).map((deb) => buildLocalDeb(at('/tmp/qwa-debs'), deb))
        await mustInside(['apt-get', 'update', '-qq'], 600_000)
        // The agent's dependencies first (from the mirror), so the snapshot below holds them.
        await mustInside(
          ['apt-get', 'satisfy', '-y', '-qq', '--no-install-recommends', debField(debs[AGENT]!, 'Depends')],
          900_000,
        )
        for (const deb of owners) await mustInside(['dpkg', '-i', `/tmp/qwa-debs/${basename(deb)}`])
        before = snapshot(root)
        for (const file of ACCOUNT_FILES) accountsBefore.set(file, readFileSync(at(file), 'utf8'))
        const install = await mustInside([
          'apt-get',
          'install',
          '-y',
          '-qq',
          '--no-install-recommends',
          `/tmp/qwa-debs/${basename(debs[AGENT]!)}`,
        ])
        installOutput = `${install.stdout}${install.stderr}`
      })
      afterAll(() => {
        if (root) removeRoot(root)
      })

      it(`installs with Debian's nodejs ${nodeMajor}`, async () => {
        expect((await mustInside(['dpkg-query', '-W', '-f', '${Status}', AGENT])).stdout).toBe('install ok installed')
        expect((await mustInside(['node', '--version'])).stdout).toMatch(new RegExp(`^v${nodeMajor}\\.`))
      })

      it("postinst wrote V8's code cache for the installed node", async () => {
        const version = (await mustInside(['node', '--version'])).stdout.trim()
        const header = readFileSync(at(`${manifest.packaging.bundle}.code-cache`))
          .subarray(0, 200)
          .toString('latin1')
          .split('\n')[0]
        expect(header).toContain(` ${version} `)
      })

      it('runs `role --json` and `status` from /usr/bin', async () => {
        const role = JSON.parse((await mustInside([manifest.paths.agentProgram, 'role', '--json'])).stdout) as Record<
          string,
          unknown
        >
        expect(role).toMatchObject({ schema: 1, qubes: false, whonix: null })
        const status = await mustInside([manifest.paths.agentProgram, 'status'])
        expect(status.stdout).not.toBe('')
        expect(JSON.parse((await mustInside([manifest.paths.agentProgram, 'status', '--json'])).stdout)).toMatchObject({
          schema: 1,
        })
      })

      it('puts every generated file in place with its mode and content', () => {
        for (const file of files) {
          const path = diverted.has(file.path) ? `${file.path}${displaceSuffix}` : file.path
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

      /** What the stand-in owning `path` ships there, found at `where` (its own place, or where it was diverted). */
      const standInAt = (path: string, where: string) => {
        const expected = standInFile(path, diversions[path]!)
        const found = lstatSync(at(where), { throwIfNoEntry: false })
        if ('link' in expected) expect(found?.isSymbolicLink() && readlinkSync(at(where)), where).toBe(expected.link)
        else expect(found?.isFile() && readFileSync(at(where), 'utf8'), where).toBe(expected.content)
      }

      it("takes over the files of Qubes' packages and qubes-whonix: theirs diverted aside, each path a link to ours", async () => {
        const list = (await mustInside(['dpkg-divert', '--list'])).stdout
        expect(ours.length).toBeGreaterThan(0)
        for (const path of ours) {
          expect(list).toContain(`diversion of ${path} to ${path}${displaceSuffix}-orig by ${AGENT}`)
          standInAt(path, `${path}${displaceSuffix}-orig`)
          expect(readlinkSync(at(path)), path).toBe(posix.basename(`${path}${displaceSuffix}`))
          // Through the link, our file: for a qrexec service, our link to the daemon's socket.
          const file = files.find((entry) => entry.path === path)!
          if (file.kind === 'symlink') expect(readlinkSync(at(`${path}${displaceSuffix}`)), path).toBe(file.target)
          else expect(readFileSync(at(path), 'utf8'), path).toBe(file.content)
        }
        // Each of Qubes' services resolves, link by link, to the daemon's socket.
        for (const service of ['qubes.SyncNtpClock', 'qubes.UpdatesProxy']) {
          const path = posix.join(manifest.paths.qrexecServiceDir, service)
          expect(ours).toContain(path)
          const next = posix.join(posix.dirname(path), readlinkSync(at(path)))
          expect(readlinkSync(at(next))).toBe(posix.join(manifest.paths.qrexecSocketDir, service))
        }
      })

      it('leaves the path qubes-whonix diverts already to it, and says so in one line', async () => {
        expect((await mustInside(['dpkg-divert', '--listpackage', held])).stdout.trim()).toBe(WHONIX)
        expect((await mustInside(['dpkg-divert', '--list', held])).stdout.trim()).toBe(
          `diversion of ${held} to ${held}${WHONIX_SUFFIX}-orig by ${WHONIX}`,
        )
        expect(readlinkSync(at(held))).toBe(`${posix.basename(held)}${WHONIX_SUFFIX}`)
        standInAt(held, `${held}${WHONIX_SUFFIX}-orig`)
        // Ours is installed beside it all the same (on Qubes R4.3 qrexec finds the socket first anyway).
        expect(readlinkSync(at(`${held}${displaceSuffix}`))).toBe(
          posix.join(manifest.paths.qrexecSocketDir, posix.basename(held)),
        )
        // apt runs dpkg on a pseudo-terminal: its lines end in \r\n.
        const said = installOutput.split(/\r?\n/).filter((line) => line.includes(held))
        expect(said).toEqual([
          `${AGENT}: not taking over ${held}, which ${WHONIX} diverts already; ours stays at ${held}${displaceSuffix}`,
        ])
      })

      it(`creates the system user ${user} and enables the units`, async () => {
        const entry = (await mustInside(['getent', 'passwd', user])).stdout.trim().split(':')
        expect(Number(entry[2])).toBeLessThan(1000)
        expect(entry[6]).toMatch(/nologin$/)
        for (const file of files) {
          if (file.kind !== 'file') continue
          const system = posix.dirname(file.path) === manifest.systemd.unitDirectory
          const userUnit = posix.dirname(file.path) === manifest.aptGate.files.userUnitDir
          if (!system && !userUnit) continue
          // WantedBy= links the unit into TARGET.wants/, RequiredBy= into TARGET.requires/.
          for (const [key, folder] of [
            ['WantedBy', 'wants'],
            ['RequiredBy', 'requires'],
          ] as const) {
            const line = new RegExp(`^\\[Install\\][^[]*?^${key}=([^\\n]+)$`, 'ms').exec(file.content)?.[1]
            for (const target of line?.trim().split(/\s+/) ?? []) {
              const link = at(
                `/etc/systemd/${system ? 'system' : 'user'}/${target}.${folder}/${posix.basename(file.path)}`,
              )
              expect(lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink(), link).toBe(true)
            }
          }
        }
      })

      it(`systemd-analyze verify of ${suite} accepts every unit`, async () => {
        const names = (dir: string) =>
          files
            .filter(
              (file) =>
                file.kind === 'file' &&
                posix.dirname(file.path) === dir &&
                /\.(service|socket|timer|path|target)$/.test(file.path),
            )
            .map((file) => posix.basename(file.path))
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
          const available = new Set(
            [...policy.matchAll(/^(\S+):\n(?:[ \t]+.*\n)*?[ \t]+Candidate: (?!\(none\))/gm)].map((match) => match[1]),
          )
          const lacking = wanted.filter((pkg) => !available.has(pkg))
          const stubs = lacking.map(
            (pkg) => `/tmp/qwa-debs/${basename(buildLocalDeb(at('/tmp/qwa-debs'), { name: pkg }))}`,
          )
          const apt = await mustInside([
            'apt-get',
            'install',
            '--simulate',
            '--no-install-recommends',
            `/tmp/qwa-debs/${basename(debs[name]!)}`,
            ...stubs,
          ])
          const installs = new Set([...apt.stdout.matchAll(/^Inst (\S+)/gm)].map((match) => match[1]))
          for (const pkg of [name, ...wanted])
            expect(installs.has(pkg), `${name}: apt would not install ${pkg}\n${apt.stdout}`).toBe(true)
        }
      })

      it('purge leaves no file, diversion or unit link; only the system user stays, as Debian keeps them', async () => {
        await mustInside(['apt-get', 'purge', '-y', '-qq', AGENT])
        expect((await inside(['dpkg-query', '-W', '-f', '${Status}', AGENT])).stdout).not.toMatch(/installed/)
        expect((await mustInside(['dpkg-divert', '--list'])).stdout).not.toContain(AGENT)
        // Theirs back in place; qubes-whonix's diversion as it was.
        for (const path of ours) standInAt(path, path)
        expect((await mustInside(['dpkg-divert', '--list', held])).stdout.trim()).toBe(
          `diversion of ${held} to ${held}${WHONIX_SUFFIX}-orig by ${WHONIX}`,
        )
        expect(readlinkSync(at(held))).toBe(`${posix.basename(held)}${WHONIX_SUFFIX}`)
        standInAt(held, `${held}${WHONIX_SUFFIX}-orig`)
        // The account files gain the user's lines and nothing else (sysusers keeps a backup with `-`).
        const accounts = ACCOUNT_FILES.flatMap((file) => [file, `${file}-`])
        for (const file of ACCOUNT_FILES) {
          const added = lines(readFileSync(at(file), 'utf8')).filter(
            (line) => !lines(accountsBefore.get(file)!).includes(line),
          )
          const removed = lines(accountsBefore.get(file)!).filter(
            (line) => !lines(readFileSync(at(file), 'utf8')).includes(line),
          )
          expect(removed, file).toEqual([])
          expect(
            added.map((line) => line.split(':')[0]),
            file,
          ).toEqual([user])
        }
        const left = difference(before, snapshot(root)).filter(
          (line) => !accounts.some((file) => line.includes(` ${file} `)),
        )
        expect(left).toEqual([])
      })
    },
  )
}
