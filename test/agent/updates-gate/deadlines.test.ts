import { chmod, readFile, writeFile } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { silentLog } from '../../../rpc/call'
import type { MarkerReading } from '../../../agent/apt-gate/facts'
import { shippedManifestCopy } from '../../../agent/manifest/load'
import type { Manifest } from '../../../agent/manifest/schema'
import { UpdatesGate } from '../../../agent/updates-gate/gate'
import { tempRoot } from '../../helpers/sandbox'
import { freePort, waitUntil } from '../updates-proxy/helpers'

/**
 * A gate whose check has not passed, on a real loopback socket, with a qrexec-client-vm
 * stand-in (a shell script) that logs each call and either answers at once or never does.
 */

const PENDING: MarkerReading = {
  directory: 'present',
  inode: null,
  secureProxy: 'missing',
  checkDone: 'missing',
  verdict: 'pending',
}

const ANSWER = 'HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok'

interface PendingGate {
  readonly gate: UpdatesGate
  readonly port: number
  readonly probe: string
  calls(): Promise<number>
}

async function pendingGate(
  client: 'answers' | 'silent',
  tune: (manifest: Manifest) => void = () => undefined,
): Promise<PendingGate> {
  const root = await tempRoot('qwa-gate-')
  const port = await freePort()
  const manifest = shippedManifestCopy<Manifest>()
  manifest.updatesProxy.check.url = `http://127.0.0.1:${port}/`
  tune(manifest)
  const log = join(root, 'calls')
  await writeFile(log, '')
  const program = join(root, 'qrexec-client-vm')
  const reply = client === 'answers' ? `printf '${ANSWER}'` : 'exec sleep 60'
  await writeFile(program, `#!/bin/sh\necho "$*" >> '${log}'\n${reply}\n`)
  await chmod(program, 0o755)
  const gate = new UpdatesGate({
    manifest,
    listen: { host: '127.0.0.1', port },
    call: { program, target: '@default', service: 'qubes.UpdatesProxy' },
    read: () => Promise.resolve(PENDING),
    reportFile: join(root, 'report.json'),
    templateName: null,
    log: silentLog,
  })
  await gate.start()
  onTestFinished(() => gate.stop())
  const probe = `GET / HTTP/1.1\r\nAccept: text/html\r\nConnection: close\r\nHost: 127.0.0.1:${port}\r\n\r\n`
  return { gate, port, probe, calls: async () => (await readFile(log, 'utf8')).split('\n').filter(Boolean).length }
}

/** Sends `request` and never ends its side; resolves with the socket and what came until the server's FIN. */
function halfOpen(port: number, request: string): Promise<{ socket: Socket; answer: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true })
    let answer = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => (answer += chunk))
    socket.on('end', () => resolve({ socket, answer }))
    socket.on('error', reject)
    socket.write(request, 'latin1')
    onTestFinished(() => void socket.destroy())
  })
}

const active = (gate: UpdatesGate) => gate.status().connections.active

describe('a gate whose check has not passed frees every connection in time', () => {
  it("a probe's client that keeps its side open: the connection ends with the call, so 4 of them leave the 5th its slot", async () => {
    const path = await pendingGate('answers', (manifest) => (manifest.updatesProxy.gate.maxConnections = 4))
    for (let index = 0; index < 4; index++) {
      const { answer } = await halfOpen(path.port, path.probe)
      expect(answer).toMatch(/\r\n\r\nok$/)
    }
    // The clients still hold their sides open; the gate has let go of every one.
    await waitUntil('the gate to free the 4 connections', async () => active(path.gate) === 0, 5000, 20)
    const fifth = await halfOpen(path.port, path.probe)
    expect(fifth.answer).toMatch(/\r\n\r\nok$/)
    expect(path.gate.status().connections.dropped).toBe(0)
    expect(await path.calls()).toBe(5)
  }, 20_000)

  it("a probe whose call never answers: cut at headTimeoutMs + the check's responseTimeoutMs + bodyTimeoutMs, with its call", async () => {
    const path = await pendingGate('silent', (manifest) => {
      manifest.updatesProxy.gate.headTimeoutMs = 200
      manifest.updatesProxy.check.responseTimeoutMs = 200
      manifest.updatesProxy.check.bodyTimeoutMs = 100
    })
    const started = performance.now()
    const { answer } = await halfOpen(path.port, path.probe)
    expect(answer).toBe('')
    expect(performance.now() - started).toBeGreaterThanOrEqual(450)
    expect(await path.calls()).toBe(1)
    await waitUntil('the connection and its call to end', async () => active(path.gate) === 0, 5000, 20)
  }, 20_000)

  it('a probe with a bare LF, NBSP, VT or FF after a value, or a lone CR: answered 503, nothing reaches qrexec', async () => {
    const path = await pendingGate('answers')
    for (const tail of ['\n\n', '\xa0', '\x0b', '\x0c', '\r']) {
      const request = path.probe.replace('text/html', `text/html${tail}`)
      const { answer } = await halfOpen(path.port, request)
      expect(answer, JSON.stringify(tail)).toMatch(/^HTTP\/1\.1 503 /)
    }
    expect(await path.calls()).toBe(0)
    // The probe itself, byte for byte, still goes through.
    expect((await halfOpen(path.port, path.probe)).answer).toMatch(/\r\n\r\nok$/)
    expect(await path.calls()).toBe(1)
  }, 20_000)
})
