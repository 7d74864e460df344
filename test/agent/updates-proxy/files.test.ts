import { execFile } from 'node:child_process'
import { cp, mkdir, readFile, stat, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { generatedFiles, loadManifest } from '../../../agent/features'
import { writeGeneratedFiles } from '../../../agent/generated/write'
import { AGENT } from '../../helpers/cli'
import { requirePart } from '../../helpers/parts'
import { tempRoot } from '../../helpers/sandbox'

const run = promisify(execFile)
const analyze = requirePart('systemd-analyze', 'systemd')
const tmpfiles = requirePart('systemd-tmpfiles', 'systemd')
const sysusers = requirePart('systemd-sysusers', 'systemd')

const CHECK_UNIT = '/lib/systemd/system/qubes-whonix-torified-updates-proxy-check.service'
const DROP_IN = '/lib/systemd/system/qubes-updates-proxy.service.d/40-qubes-whonix-agent.conf'
const TMPFILES = '/usr/lib/tmpfiles.d/qubes-whonix-agent-updates-proxy-check.conf'
const SYSUSERS = '/usr/lib/sysusers.d/qubes-whonix-agent.conf'

/** A root holding the host's systemd units, the agent's files and the agent itself, as installed. */
async function installedRoot(): Promise<string> {
  const root = await tempRoot('qwa-units-')
  const manifest = await loadManifest()
  await mkdir(join(root, 'usr/lib/systemd'), { recursive: true })
  await cp('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true })
  await symlink('usr/lib', join(root, 'lib'))
  await mkdir(join(root, 'usr/bin'), { recursive: true })
  await cp(AGENT, join(root, manifest.paths.agentProgram))
  await writeGeneratedFiles(
    root,
    (await generatedFiles(manifest)).filter((file) => [CHECK_UNIT, DROP_IN, TMPFILES, SYSUSERS].includes(file.path)),
  )
  return root
}

describe('the generated unit, drop-in, tmpfiles.d and error page', () => {
  it("renders upstream's unit contract from the manifest", async () => {
    const files = await generatedFiles(await loadManifest())
    const unit = files.find((file) => file.path === CHECK_UNIT)
    expect(unit?.kind).toBe('file')
    const text = unit?.kind === 'file' ? unit.content : ''
    for (const line of [
      'Type=oneshot',
      'User=updatesproxycheck',
      'TimeoutStartSec=120',
      'After=network-online.target',
      // A Whonix template's probe meets the gate's socket systemd bound, never a process that took the port first.
      'After=qubes-whonix-agent-updates-gate.socket',
      'Before=qubes-updates-proxy.service',
      'ExecStart=/usr/bin/qubes-whonix-agent updates-proxy check',
    ])
      expect(text.split('\n')).toContain(line)
    const page = files.find((file) => file.path === '/usr/share/qubes-whonix-agent/tinyproxy-error.html')
    expect(page?.kind === 'file' && page.content).toContain('<meta name="application-name" content="tor proxy"/>')
    const tmp = files.find((file) => file.path === TMPFILES)
    expect(tmp?.kind === 'file' && tmp.content).toContain(
      '\nd /run/updatesproxycheck 0755 updatesproxycheck updatesproxycheck -\n',
    )
  })

  it.skipIf(analyze.missing)('are accepted by systemd-analyze verify', async () => {
    const root = await installedRoot()
    for (const unit of [CHECK_UNIT, '/lib/systemd/system/qubes-updates-proxy.service']) {
      if (unit.endsWith('qubes-updates-proxy.service')) {
        // The drop-in is verified with a stand-in of the unit it extends (Qubes ships the real one).
        await writeGeneratedFiles(root, [
          {
            path: unit,
            kind: 'file',
            mode: 0o644,
            content: '[Service]\nExecStart=/usr/bin/tinyproxy -d -c /etc/tinyproxy/tinyproxy-updates.conf\n',
            purpose: 'test',
          },
        ])
        await cp('/usr/bin/true', join(root, 'usr/bin/tinyproxy'))
      }
      const result = await run(analyze.path as string, ['verify', `--root=${root}`, '--man=no', unit]).catch(
        (error: { code: number; stderr: string }) => error,
      )
      expect({ unit, stderr: result.stderr }).toEqual({ unit, stderr: '' })
      expect((result as { code?: number }).code ?? 0).toBe(0)
    }
  })

  it.skipIf(analyze.missing)(
    'is refused by systemd-analyze when the agent is not installed (the check is real)',
    async () => {
      const root = await installedRoot()
      await run('rm', [join(root, 'usr/bin/qubes-whonix-agent')])
      const result = await run(analyze.path as string, ['verify', `--root=${root}`, '--man=no', CHECK_UNIT]).then(
        () => ({ stderr: '' }),
        (error: { stderr: string }) => error,
      )
      expect(result.stderr).toContain('qubes-whonix-agent')
    },
  )

  it.skipIf(tmpfiles.missing || sysusers.missing)(
    'creates the marker directory owned by the check user (systemd-sysusers, then systemd-tmpfiles)',
    async () => {
      const root = await installedRoot()
      await mkdir(join(root, 'etc'), { recursive: true })
      // systemd 252 does not re-root a file named on the command line: name it under the root.
      await run(sysusers.path as string, [`--root=${root}`, join(root, SYSUSERS)])
      const passwd = await readFile(join(root, 'etc/passwd'), 'utf8')
      const entry = passwd.split('\n').find((line) => line.startsWith('updatesproxycheck:'))
      expect(entry).toBeDefined()
      const uid = Number(entry?.split(':')[2])
      await run(tmpfiles.path as string, ['--create', `--root=${root}`, join(root, TMPFILES)])
      const dir = await stat(join(root, 'run/updatesproxycheck'))
      expect(dir.isDirectory()).toBe(true)
      expect(dir.mode & 0o7777).toBe(0o755)
      expect(dir.uid).toBe(uid)
    },
  )
})
