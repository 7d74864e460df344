import { mkdir, rm, symlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { shippedManifest } from '../../../agent/features'
import {
  checkHostname,
  checkHosts,
  checkLocaltimeLink,
  checkResolver,
  checkTimezone,
} from '../../../agent/protected-files/expected'
import type { ProtectedFilesReport } from '../../../agent/protected-files/report'
import { buildSimulatedQube } from '../../../agent/simulate/build'
import { PROFILES, type ProfileName } from '../../../agent/simulate/profiles'
import { runAgent } from '../../helpers/cli'
import { tempRoot } from '../../helpers/sandbox'

const manifest = shippedManifest()
const { expected } = manifest.protectedFiles

describe('what Whonix expects in its protected files', () => {
  it('host name: exactly host', () => {
    expect(checkHostname('host\n', 'host')).toBeNull()
    expect(checkHostname('# Whonix\nhost\n', 'host')).toBeNull()
    expect(checkHostname('sys-whonix\n', 'host')).toMatch(/"sys-whonix"/)
    expect(checkHostname('', 'host')).not.toBeNull()
  })

  it('hosts: the Whonix names on loopback, and never the qube name Qubes would add', () => {
    const whonix = '127.0.0.1\tlocalhost\n127.0.1.1\thost.localdomain host\n::1 localhost ip6-localhost\n'
    expect(checkHosts(whonix, expected.loopbackNames, 'sys-whonix')).toBeNull()
    expect(checkHosts(`${whonix}127.0.1.1 sys-whonix\n`, expected.loopbackNames, 'sys-whonix')).toMatch(
      /names this qube \(sys-whonix\)/,
    )
    expect(checkHosts(`${whonix}::1 sys-whonix\n`, expected.loopbackNames, 'sys-whonix')).toMatch(/sys-whonix/)
    expect(checkHosts('127.0.0.1 localhost\n# 127.0.1.1 host\n', expected.loopbackNames, null)).toMatch(
      /no loopback entry for host, host.localdomain/,
    )
    expect(checkHosts(`${whonix}10.137.0.8 host\n`, expected.loopbackNames, null)).toMatch(/host maps to 10.137.0.8/)
    expect(checkHosts('::1 localhost host host.localdomain\n', expected.loopbackNames, null)).toBeNull()
  })

  it('time zone: UTC, by either name, as text or as the localtime link', () => {
    expect(checkTimezone('Etc/UTC\n', expected.timeZones)).toBeNull()
    expect(checkTimezone('UTC', expected.timeZones)).toBeNull()
    expect(checkTimezone('Europe/Berlin\n', expected.timeZones)).toMatch(/Europe\/Berlin/)
    expect(checkLocaltimeLink('/usr/share/zoneinfo/Etc/UTC', expected.zoneinfoDirectory, expected.timeZones)).toBeNull()
    expect(
      checkLocaltimeLink('/usr/share/zoneinfo/Europe/Berlin', expected.zoneinfoDirectory, expected.timeZones),
    ).toMatch(/Europe\/Berlin/)
  })

  it('resolver: at least one nameserver, only those of the role', () => {
    expect(checkResolver('nameserver 127.0.0.1\n', ['127.0.0.1'])).toBeNull()
    expect(
      checkResolver('; comment\n# nameserver 10.139.1.1\nnameserver 127.0.0.1\noptions edns0\n', ['127.0.0.1']),
    ).toBeNull()
    expect(checkResolver('nameserver 10.139.1.1\nnameserver 10.139.1.2\n', ['127.0.0.1'])).toMatch(
      /uses 10.139.1.1, 10.139.1.2/,
    )
    expect(checkResolver('# empty\n', ['127.0.0.1'])).toMatch(/no nameserver/)
  })
})

async function qube(profile: ProfileName): Promise<string> {
  const root = await tempRoot('qwa-protected-')
  await buildSimulatedQube(root, PROFILES[profile], manifest)
  return root
}

const put = async (root: string, path: string, content: string) => {
  await mkdir(dirname(join(root, path)), { recursive: true })
  await writeFile(join(root, path), content)
}

async function check(root: string): Promise<{ code: number | null; report: ProtectedFilesReport; text: string }> {
  const [json, text] = await Promise.all([
    runAgent(['--root', root, '--json', 'protected-files', 'check']),
    runAgent(['--root', root, 'protected-files', 'check']),
  ])
  expect(json.code).toBe(text.code)
  return { code: json.code, report: JSON.parse(json.stdout) as ProtectedFilesReport, text: text.stdout }
}

const entry = (report: ProtectedFilesReport, path: string) => report.files.find((file) => file.path === path)

describe('protected-files check (the built agent on simulated qubes)', () => {
  it('passes on a fresh gateway: every file protected by the list the package installs, content as expected', async () => {
    const { code, report, text } = await check(await qube('gateway'))
    expect(code).toBe(0)
    expect(report.verdict).toBe('ok')
    expect(report.files).toHaveLength(20)
    for (const file of report.files) expect(file.listedIn, file.path).toEqual([manifest.protectedFiles.listFile])
    expect(entry(report, '/etc/hostname')).toMatchObject({
      exists: 'file',
      protected: true,
      content: 'expected',
      variant: false,
    })
    expect(entry(report, '/etc/localtime')).toMatchObject({ exists: 'symlink', content: 'expected' })
    expect(entry(report, '/etc/hostname.anondist')).toMatchObject({
      exists: 'missing',
      content: 'missing',
      variant: true,
    })
    expect(text).toContain('/etc/resolv.conf')
    expect(text).toContain('protected by qubes-whonix-agent.conf')
  })

  it('reports what Qubes does to an unprotected qube: files not protected, its host name, time zone and DNS', async () => {
    const root = await qube('gateway')
    await rm(join(root, manifest.protectedFiles.listFile))
    await put(root, '/rw/config/protected-files.d/user.conf', '/etc/hosts\n')
    await put(root, '/etc/hostname', 'sys-whonix\n')
    await put(root, '/etc/hosts', '127.0.0.1 localhost\n127.0.1.1 sys-whonix\n')
    await put(root, '/etc/timezone', 'Europe/Berlin\n')
    await rm(join(root, '/etc/localtime'))
    await symlink('/usr/share/zoneinfo/Europe/Berlin', join(root, '/etc/localtime'))
    await put(root, '/etc/resolv.conf', 'nameserver 10.139.1.1\nnameserver 10.139.1.2\n')
    const { code, report, text } = await check(root)
    expect(code).toBe(1)
    expect(report.verdict).toBe('problems')
    expect(entry(report, '/etc/hosts')).toMatchObject({
      protected: true,
      listedIn: ['/rw/config/protected-files.d/user.conf'],
      content: 'unexpected',
    })
    expect(entry(report, '/etc/hostname')).toMatchObject({ protected: false, content: 'unexpected' })
    expect(entry(report, '/etc/hostname')?.detail).toMatch(/sys-whonix/)
    expect(entry(report, '/etc/timezone')?.content).toBe('unexpected')
    expect(entry(report, '/etc/localtime')?.detail).toMatch(/Europe\/Berlin/)
    expect(entry(report, '/etc/resolv.conf')?.detail).toMatch(/10\.139\.1\.1/)
    expect(text).toMatch(/\/etc\/hostname +NOT PROTECTED; UNEXPECTED/)
  })

  it("on a workstation accepts its gateway's address as resolver, before and after replace-ips", async () => {
    const root = await qube('workstation')
    expect((await check(root)).report.verdict).toBe('ok')
    expect((await runAgent(['--root', root, 'replace-ips'])).code).toBe(0)
    const after = await check(root)
    expect(after.report.verdict).toBe('ok')
    await put(root, '/etc/resolv.conf', 'nameserver 10.139.1.1\n')
    expect(entry((await check(root)).report, '/etc/resolv.conf')?.content).toBe('unexpected')
  })

  it('is not applicable outside Whonix, and status carries the report', async () => {
    const plain = await check(await qube('plain-qube'))
    expect(plain.code).toBe(0)
    expect(plain.report.verdict).toBe('not-applicable')
    const status = await runAgent(['--root', await qube('workstation'), '--json', 'status'])
    const parsed = JSON.parse(status.stdout) as { protectedFiles: ProtectedFilesReport }
    expect(parsed.protectedFiles.verdict).toBe('ok')
    expect(parsed.protectedFiles.files).toHaveLength(20)
  })
})
