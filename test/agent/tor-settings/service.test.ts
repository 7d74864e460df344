import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { generatedFiles } from '../../../agent/features'
import { writeGeneratedFiles } from '../../../agent/generated/write'
import { runAgent } from '../../helpers/cli'
import { callThroughAgent, type StandInCall } from '../../stand-ins/qrexec-agent'
import { READY, startDaemon } from '../daemon/helper'
import { OBFS4, fakePlugin, gatewayWithTor, tor, unshare } from './helpers'

/** sys-whonix with a real tor and the agent's daemon (the real bundle); dom0 calls through the qrexec-agent stand-in. */
async function servedGateway() {
  const gateway = await gatewayWithTor()
  await writeGeneratedFiles(
    gateway.root,
    (await generatedFiles(gateway.context.manifest)).filter((file) => file.path.startsWith('/etc/qubes/rpc-config/')),
  )
  const daemon = startDaemon(gateway.root, ['--config', gateway.config])
  await daemon.waitForLog(READY)
  const agent = {
    serviceDirs: [join(gateway.root, 'run/qubes-rpc')],
    rpcConfigDirs: [join(gateway.root, 'etc/qubes/rpc-config')],
  }
  const call = async (argument: string, input?: string, source = 'dom0') => {
    const result = await callThroughAgent(agent, {
      service: 'whonix.Tor',
      argument,
      source,
      timeoutMs: 30_000,
      ...(input === undefined ? {} : { input }),
    } satisfies StandInCall)
    return {
      exitCode: result.exitCode,
      raw: result.stdout.toString('utf8'),
      answer: JSON.parse(result.stdout.toString('utf8')),
    }
  }
  return { ...gateway, daemon, call }
}

describe.skipIf(tor.missing || unshare.missing)(
  'whonix.Tor through the qrexec-agent stand-in and the real daemon',
  () => {
    it('dom0 enables, sets bridges, reads the status, disables; Tor follows each over GETCONF', async () => {
      const gateway = await servedGateway()
      await fakePlugin(gateway.root, '/usr/bin/obfs4proxy')
      expect((await gateway.call('status')).answer).toMatchObject({
        ok: true,
        result: { enabled: false, file: { exists: false }, tor: { reachable: true, disableNetwork: true } },
      })
      expect(await gateway.call('enable')).toMatchObject({
        exitCode: 0,
        answer: {
          ok: true,
          result: {
            action: 'enable',
            changed: true,
            enabled: true,
            bridges: { count: 0, transports: [] },
            reloaded: true,
            note: null,
          },
        },
      })
      expect((await gateway.call('bridges-set', `${OBFS4}\n`)).answer).toMatchObject({
        ok: true,
        result: { bridges: { count: 1, transports: ['obfs4'] }, reloaded: true },
      })
      const status = (await gateway.call('status')).answer
      expect(status.result).toMatchObject({
        enabled: true,
        bridges: { count: 1, transports: ['obfs4'] },
        tor: { disableNetwork: false },
      })
      expect(JSON.stringify(status)).not.toContain('192.0.2.1')
      // What the Salt formula's unless commands grep for (test/salt/tor-model.ts answers the same).
      const raw = (await gateway.call('status')).raw
      for (const text of [
        '"ok":true',
        '"result":{"enabled":true,',
        `"digest":"${createHash('sha256').update(`${OBFS4}\n`).digest('hex')}"`,
      ])
        expect(raw).toContain(text)
      expect((await gateway.call('bridges-clear')).raw).toContain('"ok":true')
      expect((await gateway.call('status')).raw).toContain('"bridges":{"count":0,')
      expect((await gateway.call('disable')).answer.result).toMatchObject({ enabled: false, reloaded: true })
      expect((await gateway.call('status')).answer.result.tor.disableNetwork).toBe(true)
      expect(gateway.tor.child.exitCode).toBeNull()
    })

    it('answers a bad line, an unknown action and concurrent calls in JSON; the calls run one at a time', async () => {
      const gateway = await servedGateway()
      expect((await gateway.call('bridges-set', 'obfs4 192.0.2.1:443\n')).answer.error).toEqual({
        code: 'BRIDGE_INVALID',
        message: expect.stringMatching(/^bridge line 1: obfs4 needs the bridge fingerprint/),
      })
      expect((await gateway.call('restart')).answer.error.code).toBe('TOR_ACTION_UNKNOWN')
      // The calls reach the daemon in no set order; one at a time, each answers when its change is done, so the last answer is the change Tor must show.
      const answered: string[] = []
      const answers = await Promise.all(
        ['enable', 'disable', 'enable', 'disable', 'enable'].map(async (action) => {
          const call = await gateway.call(action)
          answered.push(action)
          return call
        }),
      )
      expect(answers.map(({ answer }) => answer.ok)).toEqual([true, true, true, true, true])
      const enabled = answered.at(-1) === 'enable'
      expect((await gateway.call('status')).answer.result).toMatchObject({
        enabled,
        file: { editedByHand: false },
        tor: { disableNetwork: !enabled },
      })
    })

    it('the tor command does the same on the gateway, reading bridges from stdin, and status shows the Tor part', async () => {
      const gateway = await gatewayWithTor()
      await fakePlugin(gateway.root, '/usr/bin/obfs4proxy')
      const base = ['--root', gateway.root, '--config', gateway.config]
      const set = await runAgent([...base, 'tor', 'bridges', 'set', '-'], { input: `${OBFS4}\n` })
      expect(set.stdout).toBe('Tor network disabled, 1 bridge(s) (obfs4); Tor reloaded\n')
      expect(set.code).toBe(0)
      const enable = await runAgent([...base, '--json', 'tor', 'enable'])
      expect(JSON.parse(enable.stdout)).toMatchObject({ enabled: true, reloaded: true })
      expect(JSON.parse((await runAgent([...base, 'tor', 'status'])).stdout)).toMatchObject({
        enabled: true,
        tor: { disableNetwork: false },
      })
      const bad = await runAgent([...base, 'tor', 'bridges', 'set', '-'], { input: `${OBFS4}\nnonsense\n` })
      expect({ code: bad.code, stderr: bad.stderr }).toEqual({
        code: 2,
        stderr: expect.stringMatching(/^qubes-whonix-agent: bridge line 2: unknown transport "nonsense"/),
      })
      expect((await runAgent([...base, 'tor', 'bridges', 'frobnicate'])).code).toBe(2)
      const status = JSON.parse((await runAgent([...base, 'status', '--json'])).stdout)
      expect(status.tor).toMatchObject({ enabled: true, bridges: { count: 1, transports: ['obfs4'] } })
      expect((await runAgent([...base, 'status'])).stdout).toMatch(
        /Tor network:\s+enabled, 1 bridge\(s\): obfs4; Tor: DisableNetwork 0/,
      )
      expect(readFileSync(gateway.file, 'utf8')).toContain('DisableNetwork 0')
    })
  },
)
