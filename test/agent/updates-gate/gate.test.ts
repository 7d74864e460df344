import { createHash } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { requirePart } from '../../helpers/parts'
import { runAgent } from '../../helpers/cli'
import { commandLine, descendants, start, touch } from '../apt-gate/helpers'
import { APT_CLIENTS, CLIENTS, runClient, startClient, WANTED, type ClientName, type ClientRun } from './clients'
import { BIG, startUpdatesPath } from './helpers'
import { waitUntil } from '../updates-proxy/helpers'

const tinyproxy = requirePart('tinyproxy')
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')
const parts = [
  requirePart('apt-get', 'apt'),
  requirePart('curl'),
  requirePart('/usr/bin/python3', 'python3-apt python3-pip'),
  tinyproxy,
]
const missing = parts.some((part) => part.missing)

/** apt-get and apt end 0 with a warning when lists fail to download: what they print says the 503. */
function expectRefused(name: ClientName, run: ClientRun): void {
  if (name === 'apt-get update' || name === 'apt update')
    expect(run.stdout + run.stderr, name).toMatch(/503\s+Service Unavailable/)
  else expect(run.code, `${name}: ${run.stdout}`).not.toBe(0)
}

const FAILED_REPORT = {
  schema: 1,
  result: 'failed',
  detail: 'the updates proxy is not torified: its answer lacks the proof line; last: HTTP 200 with body "sys-net"',
  attempts: 1,
  elapsedMs: 80,
  finishedAt: '2026-12-05T00:00:00.000Z',
}

describe.skipIf(missing)(
  'the updates gate: real clients through the template forwarder, qrexec and sys-whonix to a counting origin',
  () => {
    it('check passed: apt-get, apt, python3-apt, curl and pip all get through', async () => {
      const path = await startUpdatesPath(tinyproxy.path as string)
      await touch(path.secure)
      for (const name of CLIENTS) {
        path.origin.reset()
        const run = await runClient(path, name)
        expect(run.code, `${name}: ${run.stderr}`).toBe(0)
        expect(path.origin.requests(), name).toEqual(expect.arrayContaining([...WANTED[name]]))
      }
      expect(await path.calls()).toBeGreaterThanOrEqual(CLIENTS.length)
      // A large download arrives byte for byte.
      const file = join(path.template.root, 'big')
      const curl = start(['/usr/bin/curl', '-sS', '--fail', '-o', file, `${path.origin.url}/big`], {
        env: path.clientEnv,
      })
      expect((await curl.ended).code, curl.stderr()).toBe(0)
      expect(sha256(await readFile(file))).toBe(sha256(BIG))
    }, 60_000)

    it('check pending: every client gets the 503 saying so; nothing reaches qrexec or the origin', async () => {
      const path = await startUpdatesPath(tinyproxy.path as string)
      for (const name of CLIENTS) expectRefused(name, await runClient(path, name))
      const curl = await runClient(path, 'curl')
      expect(curl.stdout).toContain(
        "This Whonix template's updates gate did not forward this request: the torified updates-proxy check has no result yet",
      )
      expect(curl.stdout).toContain('qubes.UpdatesProxy  *  @tag:whonix-updatevm  @default  allow target=sys-whonix')
      expect(path.origin.requests()).toEqual([])
      expect(await path.calls()).toBe(0)
    }, 60_000)

    it('check failed: every client gets the 503 with what the last check saw; nothing reaches qrexec or the origin', async () => {
      const path = await startUpdatesPath(tinyproxy.path as string)
      await writeFile(`${path.checkDir}/whonix-secure-proxy-check-report.json`, JSON.stringify(FAILED_REPORT))
      // A directory in check-done's place counts as check-done, as `test -e` sees it.
      await mkdir(path.done)
      for (const name of CLIENTS) expectRefused(name, await runClient(path, name))
      const curl = await runClient(path, 'curl')
      expect(curl.stdout).toContain('the torified updates-proxy check failed')
      expect(curl.stdout).toContain('Last check (2026-12-05T00:00:00.000Z): failed: the updates proxy is not torified')
      expect(path.origin.requests()).toEqual([])
      expect(await path.calls()).toBe(0)
    }, 60_000)

    it("check pending: the check's own probe goes through, the check passes, and clients get through from then on", async () => {
      const path = await startUpdatesPath(tinyproxy.path as string)
      const check = await runAgent(
        ['--root', path.template.root, '--config', path.template.config, 'updates-proxy', 'check'],
        { timeoutMs: 40_000 },
      )
      expect(check.stderr).toBe('')
      expect(check.code).toBe(0)
      // The probe went to qrexec and was answered by sys-whonix's proxy itself: the origin saw nothing.
      expect(await path.calls()).toBeGreaterThanOrEqual(1)
      expect(path.origin.requests()).toEqual([])
      const curl = await runClient(path, 'curl')
      expect(curl.code, curl.stderr).toBe(0)
      expect(curl.stdout).toBe('hello from the origin\n')
    }, 60_000)
  },
)

describe.skipIf(missing)('the updates gate with the APT hook installed', () => {
  it('the check passing while apt-get, apt and python3-apt wait in the hook: all of them then fetch', async () => {
    const path = await startUpdatesPath(tinyproxy.path as string, { hook: true })
    const runs = await Promise.all(APT_CLIENTS.map((name) => startClient(path, name)))
    // Each waits in the hook: its agent is running `apt-gate --hook`.
    const waiting = async () => {
      const lines = await Promise.all(
        runs.map(async (run) => Promise.all((await descendants(run.child.pid as number)).map(commandLine))),
      )
      return lines.every((commands) => commands.some((line) => line.includes('apt-gate --hook')))
    }
    await waitUntil('each update to wait in the hook', waiting, 20_000, 50)
    expect(path.origin.requests()).toEqual([])
    const check = await runAgent(
      ['--root', path.template.root, '--config', path.template.config, 'updates-proxy', 'check'],
      { timeoutMs: 40_000 },
    )
    expect(check.code, check.stderr).toBe(0)
    for (const [index, run] of runs.entries())
      expect((await run.ended).code, `${APT_CLIENTS[index]}: ${run.stderr()}`).toBe(0)
    expect(path.origin.requests().filter((asked) => asked === '/debian/Release')).toHaveLength(APT_CLIENTS.length)
  }, 60_000)

  it('a refusal: the update fails with the WARNING, and 0 requests reach the origin', async () => {
    const path = await startUpdatesPath(tinyproxy.path as string, { hook: true })
    await touch(path.done)
    for (const name of APT_CLIENTS) {
      const run = await runClient(path, name)
      expect(run.code, name).not.toBe(0)
      expect(run.stderr).toMatch(
        /WARNING: Execution of '[^']+ update' prevented by '\/etc\/apt\/apt\.conf\.d\/40qubes-whonix-apt-gate' because no torified Qubes updates proxy found\./,
      )
      expect(run.stderr).toContain(
        "where this template's updates gate answers every request with 503 until the check passes",
      )
    }
    expect(path.origin.requests()).toEqual([])
    // Each refusal asked the updates proxy how it is, with the check's own probe: nothing else went to qrexec.
    expect(await path.calls()).toBe(APT_CLIENTS.length)
  }, 60_000)
})
