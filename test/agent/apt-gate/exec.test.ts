import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it, onTestFinished } from 'vitest'
import { AGENT } from '../../helpers/cli'
import { gateSandbox, type GateSandbox, gateWaiting, manifest, start, touch } from './helpers'

/** A program named apt-get (so it is gated) that behaves as `script` says. */
async function fakeAptGet(box: GateSandbox, script: string): Promise<string> {
  const file = join(box.root, 'bin', 'apt-get')
  await mkdir(join(box.root, 'bin'), { recursive: true })
  await writeFile(file, `#!/bin/sh\n${script}\n`)
  await chmod(file, 0o755)
  return file
}

const gateExec = (box: GateSandbox, argv: readonly string[]) =>
  start([process.execPath, AGENT, '--root', box.root, '--config', box.config, 'apt-gate', '--exec', '--', ...argv], {
    env: box.env,
  })

describe('apt-gate --exec -- COMMAND', () => {
  it('runs the command once the check has passed and passes its exit code and arguments through', async () => {
    const box = await gateSandbox()
    await touch(box.secure)
    const program = await fakeAptGet(box, 'printf "%s|" "$@"; exit 7')
    const run = gateExec(box, [program, 'install', '1e3', '--', '-o', 'a b'])
    expect(await run.ended).toEqual({ code: 7, signal: null })
    expect(run.stdout()).toBe('install|1e3|--|-o|a b|')
  })

  it('refuses with exit 255 and never runs the command after a failed check', async () => {
    const box = await gateSandbox()
    await touch(box.done)
    const ran = join(box.root, 'ran')
    const program = await fakeAptGet(box, `touch ${ran}`)
    const run = gateExec(box, [program, 'update'])
    expect(await run.ended).toEqual({ code: 255, signal: null })
    expect(run.stderr().split('\n')[0]).toBe(
      `WARNING: Execution of '${program}' prevented by 'qubes-whonix-agent apt-gate' because no torified Qubes updates proxy found.`,
    )
    expect(run.stderr()).toMatch(
      /\nUpdates qube: nothing answers at http:\/\/127\.0\.0\.1:\d+\/: the Qubes updates proxy forwarder is not running/,
    )
    await expect(readFile(ran)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('waits, then runs the command when the marker appears', async () => {
    const box = await gateSandbox()
    const program = await fakeAptGet(box, 'echo started')
    const run = gateExec(box, [program])
    await gateWaiting(run.child.pid as number)
    expect(run.stdout()).toBe('')
    await touch(box.secure)
    expect(await run.ended).toEqual({ code: 0, signal: null })
    expect(run.stdout()).toBe('started\n')
  })

  it('forwards SIGTERM to the command and exits as the command did', async () => {
    const box = await gateSandbox()
    await touch(box.secure)
    const got = join(box.root, 'got')
    const program = await fakeAptGet(
      box,
      `trap 'echo TERM > ${got}; exit 42' TERM; echo ready; i=0; while [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done`,
    )
    const run = gateExec(box, [program])
    await run.seen('ready', 'stdout')
    run.child.kill('SIGTERM')
    expect(await run.ended).toEqual({ code: 42, signal: null })
    expect(await readFile(got, 'utf8')).toBe('TERM\n')
  })

  it('dies by the signal that killed the command', async () => {
    const box = await gateSandbox()
    await touch(box.secure)
    const program = await fakeAptGet(box, 'kill -TERM $$')
    expect(await gateExec(box, [program]).ended).toEqual({ code: null, signal: 'SIGTERM' })
  })

  it('runs programs that are not apt without gating; a missing program is exit 127', async () => {
    const box = await gateSandbox()
    await touch(box.done)
    const echo = gateExec(box, ['/bin/echo', 'hello'])
    expect(await echo.ended).toEqual({ code: 0, signal: null })
    expect(echo.stdout()).toBe('hello\n')
    await touch(box.secure)
    const missing = gateExec(box, [join(box.root, 'no/such/apt-get')])
    expect(await missing.ended).toEqual({ code: 127, signal: null })
    expect(missing.stderr()).toMatch(/^qubes-whonix-agent: cannot run .*apt-get: ENOENT/)
  })

  it('SIGTERM during the wait ends the agent by SIGTERM, without running the command or printing a refusal', async () => {
    const box = await gateSandbox()
    const ran = join(box.root, 'ran')
    const program = await fakeAptGet(box, `touch ${ran}`)
    const run = gateExec(box, [program])
    await gateWaiting(run.child.pid as number)
    run.child.kill('SIGTERM')
    expect(await run.ended).toEqual({ code: null, signal: 'SIGTERM' })
    expect(run.stderr()).not.toContain('WARNING')
    await expect(readFile(ran)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('without a mode, or with two, it is a usage error (exit 2, one line)', async () => {
    const box = await gateSandbox()
    for (const args of [[], ['--hook', '--alert'], ['--command', '/usr/bin/apt', '--hook'], ['--exec']]) {
      const run = start([process.execPath, AGENT, '--root', box.root, '--config', box.config, 'apt-gate', ...args], {
        env: box.env,
      })
      expect(await run.ended, args.join(' ')).toEqual({ code: 2, signal: null })
      expect(run.stderr().trim().split('\n'), args.join(' ')).toHaveLength(1)
    }
  })

  it('the refusal tells what the updates proxy answers right now', async () => {
    const pages = {
      gateway: `<html><head>${manifest.updatesProxy.check.proofLine}</head><body>Access denied</body></html>`,
      other: '<html><body>403 Access denied</body></html>',
    }
    for (const [kind, page] of Object.entries(pages)) {
      const server = createServer((_request, response) =>
        response.writeHead(403, { 'Content-Type': 'text/html' }).end(page),
      )
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      onTestFinished(() => void server.close())
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
      const box = await gateSandbox('template-workstation', undefined, url)
      await touch(box.done)
      const run = gateExec(box, [await fakeAptGet(box, 'true')])
      expect(await run.ended).toEqual({ code: 255, signal: null })
      expect(run.stderr()).toContain(
        kind === 'gateway'
          ? `Updates qube: ${url} answers as a Whonix-Gateway now: the check probably ran too early`
          : `Updates qube: ${url} answers (HTTP 403) but not as a Whonix-Gateway: this template's updates go to a qube that is not sys-whonix.`,
      )
    }
  })
})
