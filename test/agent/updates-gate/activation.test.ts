import { mkdirSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { requirePart } from '../../helpers/parts'
import { startActivatedDaemon } from '../daemon/helper'
import { accepts, freePort, simulatedQube } from '../updates-proxy/helpers'

/**
 * The template daemon as its unit runs it: socket-activated by systemd's own
 * systemd-socket-activate, which binds the sockets before the daemon starts (as PID 1 does
 * at sockets.target, before any local process could take the port).
 */

const activate = requirePart('systemd-socket-activate', 'systemd')

async function whonixTemplate(): Promise<{ root: string; config: string; port: number }> {
  const port = await freePort()
  const template = await simulatedQube('template-gateway', { 'updatesProxy.check.url': `http://127.0.0.1:${port}/` })
  return { root: template.root, config: template.config, port }
}

function activated(root: string, config: string, listen: readonly string[], names: string) {
  return startActivatedDaemon(root, { program: activate.path ?? '', listen, names }, ['--config', config])
}

/** One request on a fresh connection; what came back until the server closed. */
function ask(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port })
    let answer = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => (answer += chunk))
    socket.on('close', () => resolve(answer))
    socket.on('error', reject)
    socket.write(request)
  })
}

describe.skipIf(activate.missing)("the updates gate on the socket systemd binds (Qubes' forwarder's way)", () => {
  it('run with its socket: the gate answers on the socket systemd bound and never binds the port itself, across a reload', async () => {
    const { root, config, port } = await whonixTemplate()
    const daemon = activated(root, config, [`127.0.0.1:${port}`], 'updates-gate')
    await daemon.waitForLog(/Listening on 127\.0\.0\.1:\d+/)
    // The first connection starts the daemon, as systemd would; it is answered by the gate.
    const answer = await ask(port, `GET http://deb.debian.org/debian/ HTTP/1.1\r\nHost: deb.debian.org\r\n\r\n`)
    expect(answer).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/)
    expect(answer).toContain("This Whonix template's updates gate did not forward this request")
    expect(daemon.log()).toMatch(/updates-gate: 127\.0\.0\.1:\d+: listening on the socket systemd passed/)
    expect(daemon.log()).not.toMatch(/cannot listen|updates-gate: listening on socket fd/)
    // A reload keeps the socket systemd bound: the gate serves it again.
    daemon.child.kill('SIGHUP')
    await daemon.waitForLog(/listening on the socket systemd passed[^]*listening on the socket systemd passed/)
    expect(await ask(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 503 /)
    expect(await daemon.stop()).toBe(0)
  }, 30_000)

  it('run by systemd without its socket: the gate does not listen at all (fails closed) and says so', async () => {
    const { root, config, port } = await whonixTemplate()
    const control = join(root, 'run/qubes-whonix-agent/control')
    mkdirSync(join(root, 'run/qubes-whonix-agent'), { recursive: true })
    const daemon = activated(root, config, [control], 'control')
    await daemon.waitForLog(/Listening on .*control/)
    // A connection to its control socket starts it.
    await new Promise<void>((resolve) =>
      connect({ path: control })
        .on('connect', resolve)
        .on('error', () => resolve()),
    )
    await daemon.waitForLog(/<3>updates-gate: 127\.0\.0\.1:\d+: started by systemd without its socket updates-gate/)
    expect(await accepts(port)).toBe(false)
    expect(await daemon.stop()).toBe(0)
  }, 30_000)
})
