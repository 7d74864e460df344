import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { descriptorFromEnvironment } from '../../rpc/executable'
import { AGENT, runAgent } from '../helpers/cli'
import { tempRoot } from '../helpers/sandbox'
import { callThroughAgent } from '../stand-ins/qrexec-agent'

describe('descriptorFromEnvironment', () => {
  it('reads the QREXEC_* variables of each form', () => {
    expect(
      descriptorFromEnvironment({ QREXEC_REMOTE_DOMAIN: 'dom0', QREXEC_SERVICE_FULL_NAME: 'whonix.Role' }),
    ).toEqual({ service: 'whonix.Role', argument: null, source: 'dom0', target: null })
    expect(
      descriptorFromEnvironment({
        QREXEC_REMOTE_DOMAIN: 'q',
        QREXEC_SERVICE_FULL_NAME: 's+',
        QREXEC_SERVICE_ARGUMENT: '',
        QREXEC_REQUESTED_TARGET_TYPE: '',
      }).argument,
    ).toBe('')
    expect(
      descriptorFromEnvironment({
        QREXEC_REMOTE_DOMAIN: 'q',
        QREXEC_SERVICE_FULL_NAME: 's+a',
        QREXEC_SERVICE_ARGUMENT: 'a',
        QREXEC_REQUESTED_TARGET_TYPE: 'keyword',
        QREXEC_REQUESTED_TARGET_KEYWORD: 'adminvm',
      }).target,
    ).toEqual({ type: 'keyword', value: 'adminvm' })
  })
  it('outside qrexec names the variables that are not set', () => {
    expect(() => descriptorFromEnvironment({})).toThrow(
      'not called by qrexec: QREXEC_SERVICE_FULL_NAME and QREXEC_REMOTE_DOMAIN are not set',
    )
    expect(() => descriptorFromEnvironment({ QREXEC_SERVICE_FULL_NAME: 'whonix.Role' })).toThrow(
      'not called by qrexec: QREXEC_REMOTE_DOMAIN is not set',
    )
  })
  it('refuses what a descriptor would refuse', () => {
    expect(() =>
      descriptorFromEnvironment({ QREXEC_SERVICE_FULL_NAME: 'whonix.Role', QREXEC_REMOTE_DOMAIN: '' }),
    ).toThrow(/source/)
    expect(() =>
      descriptorFromEnvironment({
        QREXEC_REMOTE_DOMAIN: 'q',
        QREXEC_SERVICE_FULL_NAME: 's+a',
        QREXEC_SERVICE_ARGUMENT: '$(x)',
      }),
    ).toThrow(/argument/)
    expect(() =>
      descriptorFromEnvironment({
        QREXEC_REMOTE_DOMAIN: 'q',
        QREXEC_SERVICE_FULL_NAME: 's',
        QREXEC_REQUESTED_TARGET_TYPE: 'other',
      }),
    ).toThrow(/TARGET_TYPE/)
  })
})

/** A simulated Whonix-Gateway whose /etc/qubes-rpc holds the agent as executable services. */
async function gatewayWithExecutables(services: readonly string[]): Promise<{ root: string; etc: string }> {
  const root = await tempRoot('qwa-exec-')
  expect((await runAgent(['--root', root, 'simulate', '--as', 'gateway'])).code).toBe(0)
  const etc = join(root, 'etc/qubes-rpc')
  mkdirSync(etc, { recursive: true })
  for (const service of services) {
    writeFileSync(
      join(etc, service),
      `#!/bin/sh\nexec ${process.execPath} ${AGENT} --root ${root} rpc-exec ${service} "$@"\n`,
    )
    chmodSync(join(etc, service), 0o755)
  }
  return { root, etc }
}

describe('the executable-service adapter end to end through the qrexec-agent stand-in', () => {
  it('whonix.Role: only the answer on stdout, exit 0', async () => {
    const { etc } = await gatewayWithExecutables(['whonix.Role'])
    const result = await callThroughAgent(
      { serviceDirs: [etc], env: { PATH: '/usr/bin:/bin' } },
      { service: 'whonix.Role', source: 'dom0' },
    )
    expect(result.exitCode).toBe(0)
    const lines = result.stdout.toString().split('\n')
    expect(lines).toHaveLength(2)
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ ok: true, result: { whonix: 'gateway', class: 'proxy' } })
  })
  it('qubes.SetDateTime: records a valid time (exit 0); a bad one is a JSON error and exit 1', async () => {
    const { root, etc } = await gatewayWithExecutables(['qubes.SetDateTime'])
    const agent = { serviceDirs: [etc], env: { PATH: '/usr/bin:/bin' } }
    const good = await callThroughAgent(agent, {
      service: 'qubes.SetDateTime',
      source: 'dom0',
      input: '2026-03-04T05:06:07+00:00\n',
    })
    expect(good.exitCode).toBe(0)
    expect(readFileSync(join(root, 'run/qubes-whonix/qubes.SetDateTime'), 'utf8')).toBe('2026-03-04T05:06:07+00:00\n')
    const bad = await callThroughAgent(agent, { service: 'qubes.SetDateTime', source: 'dom0', input: 'yesterday\n' })
    expect(bad.exitCode).toBe(1)
    expect(JSON.parse(bad.stdout.toString()).error.code).toBe('TIMESTAMP_INVALID')
    expect(readFileSync(join(root, 'run/qubes-whonix/qubes.SetDateTime'), 'utf8')).toBe('2026-03-04T05:06:07+00:00\n')
  })
  it('input over the service limit: INPUT_TOO_LARGE and exit 1', async () => {
    const { etc } = await gatewayWithExecutables(['qubes.SetDateTime'])
    const result = await callThroughAgent(
      { serviceDirs: [etc], env: { PATH: '/usr/bin:/bin' } },
      { service: 'qubes.SetDateTime', source: 'dom0', input: 'x'.repeat(100_000) },
    )
    expect(result.exitCode).toBe(1)
    expect(JSON.parse(result.stdout.toString()).error.code).toBe('INPUT_TOO_LARGE')
  })
  it("a caller's argument that looks like an option is data, never one of ours", async () => {
    const { etc } = await gatewayWithExecutables(['whonix.Role'])
    for (const argument of ['--help', '-v', '--root', '--config', '--', '-']) {
      const result = await callThroughAgent(
        { serviceDirs: [etc], env: { PATH: '/usr/bin:/bin' } },
        { service: 'whonix.Role', argument, source: 'dom0' },
      )
      expect([argument, result.exitCode]).toEqual([argument, 0])
      expect(JSON.parse(result.stdout.toString())).toMatchObject({ ok: true, result: { whonix: 'gateway' } })
    }
  })
  it('run by hand outside qrexec: exit 2, naming the QREXEC_* variables that are missing', async () => {
    const { root } = await gatewayWithExecutables([])
    const result = await runAgent(['--root', root, 'rpc-exec', 'whonix.Role'], { env: { PATH: '/usr/bin:/bin' } })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('QREXEC_SERVICE_FULL_NAME and QREXEC_REMOTE_DOMAIN are not set')
  })
  it('called under another name than its service: exit 2 and a clear error', async () => {
    const { etc } = await gatewayWithExecutables(['whonix.Role'])
    writeFileSync(join(etc, 'whonix.Other'), readFileSync(join(etc, 'whonix.Role')))
    chmodSync(join(etc, 'whonix.Other'), 0o755)
    const result = await callThroughAgent(
      { serviceDirs: [etc], env: { PATH: '/usr/bin:/bin' } },
      { service: 'whonix.Other', source: 'dom0' },
    )
    expect(result.exitCode).toBe(2)
    expect(JSON.parse(result.stdout.toString()).error.message).toMatch(/called as whonix.Other, not whonix.Role/)
    expect(result.stderr).toMatch(/^<3>/)
  })
})
