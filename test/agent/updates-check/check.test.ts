import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { watch } from 'node:fs'
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createServer } from 'node:net'
import { describe, expect, it, onTestFinished } from 'vitest'
import { AGENT, runAgent } from '../../helpers/cli'
import { requirePart } from '../../helpers/parts'
import { accepts, freePort, simulatedQube, startHttpServer, startTinyproxy, waitUntil } from '../updates-proxy/helpers'

const tinyproxy = requirePart('tinyproxy')
const PROOF = '<meta name="application-name" content="tor proxy"/>'

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  )
const mode = async (path: string) => (await stat(path)).mode & 0o777

async function template(url: string, changes: Record<string, unknown> = {}) {
  const qube = await simulatedQube('template-workstation', {
    'updatesProxy.check.url': url,
    'updatesProxy.check.timeoutSec': 6,
    'updatesProxy.check.stopMarginMs': 1000,
    ...changes,
  })
  const dir = join(qube.root, 'run/updatesproxycheck')
  return {
    ...qube,
    dir,
    secure: join(dir, 'whonix-secure-proxy'),
    done: join(dir, 'whonix-secure-proxy-check-done'),
    report: join(dir, 'whonix-secure-proxy-check-report.json'),
  }
}

const check = (qube: { root: string; config: string }, ...extra: string[]) =>
  runAgent(['--root', qube.root, '--config', qube.config, 'updates-proxy', 'check', ...extra], { timeoutMs: 30_000 })

describe.skipIf(tinyproxy.missing)('updates-proxy check against a real tinyproxy', () => {
  it('passes against tinyproxy arranged as on sys-whonix, with upstream modes, and stays passed', async () => {
    const qube = await template('http://127.0.0.1:1/', { 'updatesProxy.check.timeoutSec': 3 })
    const proxy = await startTinyproxy(tinyproxy.path as string, qube.root, qube.manifest)
    await writeFile(
      qube.config,
      (await readFile(qube.config, 'utf8')).replace('http://127.0.0.1:1/', `http://127.0.0.1:${proxy.port}/`),
    )
    // The check creates its directory itself when tmpfiles.d has not.
    await rm(qube.dir, { recursive: true, force: true })
    const run = await check(qube)
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(await mode(qube.dir)).toBe(0o755)
    expect(await mode(qube.secure)).toBe(0o664)
    expect(await mode(qube.done)).toBe(0o664)
    expect(JSON.parse(await readFile(qube.report, 'utf8'))).toMatchObject({ schema: 1, result: 'passed', attempts: 1 })
    expect(proxy.log()).toMatch(/is local|filtered/)

    // Sticky: with the proxy gone the result stands, until --recheck.
    await proxy.stop()
    expect((await check(qube)).code).toBe(0)
    const recheck = await check(qube, '--recheck')
    expect(recheck.code).toBe(1)
    expect(await exists(qube.secure)).toBe(false)
    expect(await exists(qube.done)).toBe(true)
    expect(recheck.stderr).toContain('connection refused')

    const status = JSON.parse(
      (await runAgent(['--root', qube.root, '--config', qube.config, '--json', 'status'])).stdout,
    )
    expect(status.updatesProxy).toMatchObject({ verdict: 'failed', report: { result: 'failed' } })
    expect(status.updatesProxy.report.detail).toContain('no usable answer')
  })

  it('fails with exit 1 and a bounded diagnostic when the answer lacks the proof line', async () => {
    const body = `<html><body>${'plain proxy, no Whonix here. '.repeat(100)}</body></html>`
    const server = await startHttpServer('127.0.0.1', (_request, response) => response.end(body))
    const qube = await template(`http://127.0.0.1:${server.port}/`)
    const run = await check(qube)
    expect(run.code).toBe(1)
    expect(JSON.parse(await readFile(qube.report, 'utf8'))).toMatchObject({ result: 'failed', attempts: 1 })
    expect(run.stderr).toContain(`http://127.0.0.1:${server.port}/`)
    expect(run.stderr).toContain(PROOF)
    expect(run.stderr).toContain('HTTP 200 with body "<html><body>plain proxy, no Whonix here.')
    expect(run.stderr).toContain(`(first 400 of ${body.length} bytes)`)
    expect(run.stderr).not.toContain(body.slice(0, 500))
    expect(await exists(qube.secure)).toBe(false)
    expect(await exists(qube.done)).toBe(true)
  })

  it('passes once tinyproxy starts 2 s late, and reports the detection latency', async () => {
    const port = await freePort()
    const qube = await template(`http://127.0.0.1:${port}/`, { 'updatesProxy.check.timeoutSec': 20 })
    await mkdir(qube.dir, { recursive: true })
    // The check removes check-done as it begins asking: then it is in its loop.
    await writeFile(qube.done, '')
    let markerAt = 0
    const watcher = watch(qube.dir, (_event, name) => {
      if (name === 'whonix-secure-proxy' && markerAt === 0) markerAt = performance.now()
    })
    const running = check(qube)
    await waitUntil('the check to begin asking', async () => !(await exists(qube.done)), 20_000, 5)
    await new Promise((resolve) => setTimeout(resolve, 2000))
    // The moment tinyproxy accepts, seen by polling every millisecond beside the check.
    let reachableAt = 0
    const polling = (async () => {
      while (reachableAt === 0) {
        if (await accepts(port)) reachableAt = performance.now()
        else await new Promise((resolve) => setTimeout(resolve, 1))
      }
    })()
    const proxy = await startTinyproxy(tinyproxy.path as string, qube.root, qube.manifest, { port })
    await polling
    const run = await running
    watcher.close()
    expect(run.code).toBe(0)
    expect(await exists(qube.secure)).toBe(true)
    expect(markerAt).toBeGreaterThan(0)
    console.log(`detection latency (tinyproxy accepting -> marker written): ${(markerAt - reachableAt).toFixed(1)} ms`)
    expect(JSON.parse(await readFile(qube.report, 'utf8')).attempts).toBeGreaterThan(10)
    expect(proxy.port).toBe(port)
  })

  it('gives up within its own bound on a stopped (SIGSTOP) tinyproxy', async () => {
    const qube = await template('http://127.0.0.1:1/', {
      'updatesProxy.check.timeoutSec': 3,
      'updatesProxy.check.responseTimeoutMs': 700,
    })
    const proxy = await startTinyproxy(tinyproxy.path as string, qube.root, qube.manifest)
    await writeFile(
      qube.config,
      (await readFile(qube.config, 'utf8')).replace('http://127.0.0.1:1/', `http://127.0.0.1:${proxy.port}/`),
    )
    proxy.process.kill('SIGSTOP')
    const run = await check(qube)
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('no usable answer from the updates proxy within 2 s')
    expect(run.stderr).toContain('no response within')
    expect(await exists(qube.done)).toBe(true)
    // Its own clock: the last try ends by the deadline (3 s bound minus the 1 s margin).
    expect(JSON.parse(await readFile(qube.report, 'utf8')).elapsedMs).toBeLessThan(3000)
  })

  it('reads at most maxBodyBytes of a 100 MiB answer', async () => {
    let sent = 0
    let closedEarly = false
    const chunk = Buffer.alloc(1024 * 1024, 'x')
    const server = await startHttpServer('127.0.0.1', (_request, response) => {
      response.writeHead(200, { 'Content-Length': String(100 * chunk.length) })
      const pump = () => {
        while (sent < 100 * chunk.length) {
          sent += chunk.length
          if (!response.write(chunk)) return void response.once('drain', pump)
        }
        response.end()
      }
      response.on('close', () => (closedEarly = sent < 100 * chunk.length || !response.writableFinished))
      pump()
    })
    const qube = await template(`http://127.0.0.1:${server.port}/`)
    const run = await check(qube)
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('(first 400 of more than 1048576 bytes)')
    await waitUntil('the server to see the close', () => closedEarly, 5000)
    expect(sent).toBeLessThan(100 * chunk.length)
  })
})

describe('updates-proxy check: upstream contract', () => {
  it('exits 0 and writes nothing outside a Whonix template', async () => {
    const qube = await simulatedQube('workstation', { 'updatesProxy.check.url': 'http://127.0.0.1:1/' })
    const run = await runAgent(['--root', qube.root, '--config', qube.config, 'updates-proxy', 'check'])
    expect(run.code).toBe(0)
    expect(await exists(join(qube.root, 'run/updatesproxycheck'))).toBe(false)
  })

  it('refuses another user with exit 1 and writes no marker', async () => {
    const qube = await template('http://127.0.0.1:1/', { 'updatesProxy.check.user': 'updatesproxycheck' })
    const run = await check(qube)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/must run as user updatesproxycheck, not /)
    expect(await exists(qube.done)).toBe(false)
  })

  it('trusts the proxy when the skip service is set, without asking it', async () => {
    const qube = await template('http://127.0.0.1:1/')
    await writeFile(join(qube.root, 'run/qubes-service/skip-torified-updates-proxy-check'), '')
    const run = await check(qube)
    expect(run.code).toBe(0)
    expect(await exists(qube.secure)).toBe(true)
    expect(await exists(qube.done)).toBe(true)
    expect(JSON.parse(await readFile(qube.report, 'utf8')).result).toBe('skipped')
  })

  it('exits 143 on SIGTERM and still records check-done', async () => {
    // A proxy that accepts and never answers: its first connection says the check is asking.
    let asked = false
    const silent = createServer((socket) => {
      asked = true
      socket.on('error', () => undefined)
    })
    silent.listen(0, '127.0.0.1')
    await once(silent, 'listening')
    onTestFinished(() => void silent.close())
    const port = (silent.address() as { port: number }).port
    const qube = await template(`http://127.0.0.1:${port}/`, { 'updatesProxy.check.timeoutSec': 60 })
    const child = spawn(
      process.execPath,
      [AGENT, '--root', qube.root, '--config', qube.config, 'updates-proxy', 'check'],
      { stdio: 'ignore' },
    )
    await waitUntil('the check to ask', () => asked, 10_000, 10)
    child.kill('SIGTERM')
    const [code] = (await once(child, 'exit')) as [number | null]
    expect(code).toBe(143)
    expect(await exists(qube.done)).toBe(true)
    expect(await exists(qube.secure)).toBe(false)
    expect(JSON.parse(await readFile(qube.report, 'utf8')).result).toBe('interrupted')
  })

  it("retries on the gateway's own 503 (Tor not ready) instead of failing", async () => {
    let requests = 0
    const server = await startHttpServer('127.0.0.1', (_request, response) => {
      requests++
      if (requests < 3)
        response
          .writeHead(503, {
            'X-Whonix-Updates-Proxy-Not-Ready': 'Tor is not ready: bootstrap 10% (Finishing handshake)',
          })
          .end('Tor is not ready\n')
      else response.writeHead(400).end(`<html><head>${PROOF}</head></html>`)
    })
    const qube = await template(`http://127.0.0.1:${server.port}/`)
    const run = await check(qube)
    expect(run.code).toBe(0)
    expect(requests).toBe(3)
  })

  it('names the not-ready reason when the bound passes while the gateway is not ready', async () => {
    const server = await startHttpServer('127.0.0.1', (_request, response) => {
      response
        .writeHead(503, { 'X-Whonix-Updates-Proxy-Not-Ready': 'Tor is not ready: bootstrap 10% (Finishing handshake)' })
        .end('x')
    })
    const qube = await template(`http://127.0.0.1:${server.port}/`, { 'updatesProxy.check.timeoutSec': 2 })
    const run = await check(qube)
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(
      'the updates qube says it is not ready: "Tor is not ready: bootstrap 10% (Finishing handshake)"',
    )
  })
})
