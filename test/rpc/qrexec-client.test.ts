import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CodedError, QrexecFailureError, QrexecRefusedError, QrexecServiceNotFoundError } from '../../rpc/errors'
import { jsonHandler } from '../../rpc/json'
import { parsePolicyLine } from '../../rpc/policy'
import { callQrexecService, qrexecClientVmArgv, type ClientCommand, type ClientRun } from '../../rpc/qrexec-client'
import { spawnCommand } from '../../agent/run'
import { tempRoot } from '../helpers/sandbox'
import { callThroughAgent } from '../stand-ins/qrexec-agent'
import { serveOnSocket } from './serve-helper'

describe('qrexec-client-vm argument vector', () => {
  it('is TARGET then SERVICE[+ARG], as data', () => {
    expect(qrexecClientVmArgv({ target: 'sys-whonix', service: 'whonix.UpdatesProxyStatus' })).toEqual([
      '/usr/bin/qrexec-client-vm',
      'sys-whonix',
      'whonix.UpdatesProxyStatus',
    ])
    expect(qrexecClientVmArgv({ target: '@default', service: 'qubes.UpdatesProxy+x', program: '/x/q' })).toEqual([
      '/x/q',
      '@default',
      'qubes.UpdatesProxy+x',
    ])
  })
  it('refuses targets and services qrexec would mangle or misread', () => {
    expect(() => qrexecClientVmArgv({ target: '@tag:x', service: 's' })).toThrow(/target keyword/)
    expect(() => qrexecClientVmArgv({ target: '-h', service: 's' })).toThrow()
    expect(() => qrexecClientVmArgv({ target: 'q', service: 's a' })).toThrow(/character set/)
    expect(() => qrexecClientVmArgv({ target: 'q', service: '+a' })).toThrow()
  })
})

/**
 * A tiny dom0: first matching policy line (exact names, @anyvm, *, @tag:), then the target
 * qube's qrexec-agent stand-in. Exit codes as a caller of qrexec-client-vm sees them.
 */
function dom0(policy: string, qubes: Record<string, { dirs: string[]; tags: string[] }>, source: string) {
  const matches = (token: string, qube: string) =>
    token === '*' ||
    token === '@anyvm' ||
    token === qube ||
    (token.startsWith('@tag:') && (qubes[qube]?.tags ?? []).includes(token.slice(5)))
  return async (command: ClientCommand): Promise<ClientRun> => {
    const [, target = '', call = ''] = command.argv
    const [service = '', argument] = call.split(/\+(.*)/s)
    const rule = policy
      .split('\n')
      .filter((line) => line.trim() && !line.startsWith('#'))
      .map(parsePolicyLine)
      .find(
        (r) =>
          (r.service === '*' || r.service === service) &&
          (r.argument === '*' || r.argument === `+${argument ?? ''}`) &&
          matches(r.source, source) &&
          matches(r.target, target),
      )
    if (!rule || rule.action === 'deny') return { exitCode: 126, stdout: '', stderr: 'Request refused' }
    const qube = qubes[target]
    if (!qube) return { exitCode: 125, stdout: '', stderr: `no such qube ${target}` }
    const result = await callThroughAgent({ serviceDirs: qube.dirs }, { service, argument: argument ?? null, source })
    return { exitCode: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr }
  }
}

describe('calling a service in another qube', () => {
  it('returns the answer, and maps 126, 127 and 125 to typed errors', async () => {
    const { path } = await serveOnSocket(
      'test.Health',
      jsonHandler((call) => ({ from: call.source })),
    )
    const etc = join(await tempRoot(), 'etc/qubes-rpc')
    mkdirSync(etc, { recursive: true })
    symlinkSync(path, join(etc, 'test.Health'))
    const policy =
      'test.Health * @tag:whonix-updatevm sys-whonix allow\ntest.Missing * @anyvm @anyvm allow\ntest.Health * @anyvm @anyvm deny\n'
    const qubes = {
      'sys-whonix': { dirs: [etc], tags: [] },
      'whonix-gateway-17': { dirs: [], tags: ['whonix-updatevm'] },
    }
    const request = { timeoutMs: 5000, maxOutputBytes: 1 << 20 }
    const fromTemplate = dom0(policy, qubes, 'whonix-gateway-17')
    expect(
      JSON.parse(await callQrexecService(fromTemplate, { ...request, target: 'sys-whonix', service: 'test.Health' })),
    ).toEqual({ ok: true, result: { from: 'whonix-gateway-17' } })
    await expect(
      callQrexecService(dom0(policy, qubes, 'anon-whonix'), {
        ...request,
        target: 'sys-whonix',
        service: 'test.Health',
      }),
    ).rejects.toBeInstanceOf(QrexecRefusedError)
    await expect(
      callQrexecService(fromTemplate, { ...request, target: 'sys-whonix', service: 'test.Missing' }),
    ).rejects.toBeInstanceOf(QrexecServiceNotFoundError)
    const failure = callQrexecService(fromTemplate, { ...request, target: 'sys-nothing', service: 'test.Missing' })
    await expect(failure).rejects.toBeInstanceOf(QrexecFailureError)
    await expect(failure).rejects.toMatchObject({
      code: 'RPC_QREXEC_FAILED',
      exitCode: 125,
      message: expect.stringMatching(/no such qube sys-nothing/),
    })
  })
  it('a service exit code, a timeout and a missing qrexec-client-vm are errors of their own', async () => {
    const request = { target: 'q', service: 's', timeoutMs: 1, maxOutputBytes: 1 }
    await expect(
      callQrexecService(async () => ({ exitCode: 3, stdout: '', stderr: 'boom' }), request),
    ).rejects.toMatchObject({ code: 'RPC_SERVICE_FAILED', exitCode: 3 })
    await expect(
      callQrexecService(async () => ({ exitCode: null, stdout: '', stderr: '', timedOut: true }), request),
    ).rejects.toMatchObject({ code: 'RPC_TIMEOUT' })
    const missing = callQrexecService(
      async () => ({ exitCode: null, stdout: '', stderr: '', spawnError: 'ENOENT' }),
      request,
    )
    await expect(missing).rejects.toBeInstanceOf(CodedError)
    await expect(missing).rejects.toThrow(/is this a Qubes qube/)
  })
  it('an answer over its bound is an error, even when the program exited 0 first', async () => {
    const program = join(await tempRoot(), 'qrexec-client-vm')
    writeFileSync(program, '#!/bin/sh\nhead -c 100000 /dev/zero\n')
    chmodSync(program, 0o755)
    const request = { target: 'sys-whonix', service: 'test.Big', program, timeoutMs: 10_000 }
    await expect(callQrexecService(spawnCommand, { ...request, maxOutputBytes: 1000 })).rejects.toMatchObject({
      code: 'RPC_ANSWER_TOO_LARGE',
    })
    expect((await callQrexecService(spawnCommand, { ...request, maxOutputBytes: 200_000 })).length).toBe(100_000)
  })
})
