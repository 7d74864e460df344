import { spawn } from 'node:child_process'
import { lstatSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it, onTestFinished } from 'vitest'
import { descriptorFor } from '../../../rpc/descriptor'
import { callSocketService } from '../../../rpc/socket-client'
import { AGENT } from '../../helpers/cli'
import { requirePart } from '../../helpers/parts'
import { READY, simulatedRoot, startActivatedDaemon } from './helper'

const activate = requirePart('systemd-socket-activate', 'systemd')
const role = (socket: string, timeoutMs = 20_000) =>
  callSocketService(socket, descriptorFor('whonix.Role', 'dom0'), { timeoutMs, maxOutputBytes: 1 << 20 }).then(
    (answer) => JSON.parse(answer.toString()),
  )

describe.skipIf(activate.missing)('systemd socket activation (systemd-socket-activate)', () => {
  it('the sockets exist before the agent; the first call starts it and is answered; the daemon serves the passed sockets', async () => {
    const root = await simulatedRoot('gateway')
    const roleSocket = join(root, 'run/qubes-rpc/whonix.Role')
    const control = join(root, 'run/qubes-whonix-agent/control')
    mkdirSync(join(root, 'run/qubes-rpc'), { recursive: true })
    mkdirSync(join(root, 'run/qubes-whonix-agent'), { recursive: true })
    const daemon = startActivatedDaemon(root, {
      program: activate.path ?? '',
      listen: [roleSocket, control],
      names: 'whonix.Role:control',
    })
    await daemon.waitForLog(/Listening on .*control/)
    // Before any call: the sockets exist, the agent has not started.
    expect(lstatSync(roleSocket).isSocket()).toBe(true)
    expect(daemon.log()).not.toMatch(/<6>serving/)
    const answer = await role(roleSocket)
    expect(answer).toMatchObject({ ok: true, result: { whonix: 'gateway' } })
    await daemon.waitForLog(READY)
    expect(daemon.log()).toMatch(/<7>whonix.Role: listening on socket fd 3 from systemd/)
    expect(daemon.log()).toMatch(/<7>control: listening on socket fd 4 from systemd/)
    // Services without a passed socket get one of their own.
    expect(daemon.log()).toMatch(/<7>qubes.SetDateTime: listening on \//)
    expect(
      (
        await callSocketService(control, descriptorFor('agent.DaemonStatus', 'dom0'), {
          timeoutMs: 5000,
          maxOutputBytes: 1 << 20,
        })
      ).toString(),
    ).toMatch(/"running":true/)
    expect(await daemon.stop()).toBe(0)
  })

  it('a socket systemd passed for a service this role does not serve answers SERVICE_NOT_SERVED instead of hanging', async () => {
    const root = await simulatedRoot('plain-qube')
    const socket = join(root, 'run/qubes-rpc/qubes.SetDateTime')
    mkdirSync(join(root, 'run/qubes-rpc'), { recursive: true })
    const daemon = startActivatedDaemon(root, {
      program: activate.path ?? '',
      listen: [socket],
      names: 'qubes.SetDateTime',
    })
    await daemon.waitForLog(/Listening on/)
    const answer = JSON.parse(
      (
        await callSocketService(socket, descriptorFor('qubes.SetDateTime', 'dom0'), {
          timeoutMs: 20_000,
          maxOutputBytes: 4096,
          input: '2026-01-01T00:00:00Z\n',
        })
      ).toString(),
    )
    expect(answer).toMatchObject({ ok: false, error: { code: 'SERVICE_NOT_SERVED' } })
  })

  it('no call is lost while the daemon restarts: calls wait on the socket systemd keeps', async () => {
    const root = await simulatedRoot('gateway')
    const socket = join(root, 'run/qubes-rpc/whonix.Role')
    mkdirSync(join(root, 'run/qubes-rpc'), { recursive: true })
    // What systemd does for a socket unit: hold the listening socket, start the service with
    // it as fd 3 (LISTEN_PID set in the service's own process), again after each exit.
    const holder = spawn(
      'python3',
      [
        '-c',
        `import os, socket, subprocess, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(sys.argv[1]); s.listen(128)
if s.fileno() != 3: os.dup2(s.fileno(), 3)
env = dict(os.environ, LISTEN_FDS='1', LISTEN_FDNAMES='whonix.Role', PATH='/usr/bin:/bin')
print('listening', flush=True)
for line in sys.stdin:
    p = subprocess.Popen(['sh', '-c', 'LISTEN_PID=$$ exec "$@"', 'sh'] + sys.argv[2:], pass_fds=(3,), env=env, stdout=subprocess.DEVNULL)
    print('started', p.pid, flush=True)
    p.wait()
    print('exited', p.returncode, flush=True)`,
        socket,
        process.execPath,
        AGENT,
        '--root',
        root,
        'daemon',
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    )
    onTestFinished(() => void holder.kill('SIGKILL'))
    let out = ''
    holder.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
    const until = async (pattern: RegExp) => {
      for (let wait = 0; !pattern.test(out); wait++) {
        if (wait > 400) throw new Error(`holder never printed ${pattern}: ${out}`)
        await sleep(50)
      }
      return pattern.exec(out)
    }
    await until(/listening/)
    holder.stdin.write('start\n')
    const first = await until(/started (\d+)/)
    expect((await role(socket)).ok).toBe(true)
    process.kill(Number(first?.[1]), 'SIGTERM')
    // This call arrives while the daemon stops and before the next one runs.
    const during = role(socket, 30_000)
    await until(/exited 0/)
    await sleep(300)
    holder.stdin.write('start\n')
    expect(await during).toMatchObject({ ok: true, result: { whonix: 'gateway' } })
    const second = await until(/started \d+[^]*started (\d+)/)
    expect((await role(socket)).ok).toBe(true)
    process.kill(Number(second?.[1]), 'SIGTERM')
    await until(/exited 0[^]*exited 0/)
    holder.stdin.end()
  })
})
