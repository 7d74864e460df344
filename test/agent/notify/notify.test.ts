import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import dbus from 'dbus-next'
import { onTestFinished, describe, expect, it } from 'vitest'
import { alertNotification, runAlert, type AlertDependencies } from '../../../agent/apt-gate/alert'
import { markerReader } from '../../../agent/apt-gate/facts'
import { createContext } from '../../../agent/context'
import { sessionBusAddress } from '../../../agent/notify/address'
import { sendNotification, type DesktopNotification } from '../../../agent/notify/notify'
import { AGENT } from '../../helpers/cli'
import { requirePart } from '../../helpers/parts'
import { tempRoot } from '../../helpers/sandbox'
import { gateSandbox, manifest, start, touch } from '../apt-gate/helpers'

const daemon = requirePart('dbus-daemon', 'dbus')

/** A private session bus: a real dbus-daemon on a socket in a temp directory, stopped after the test. */
async function sessionBus(): Promise<string> {
  const dir = await tempRoot()
  const config = join(dir, 'session.conf')
  await writeFile(
    config,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${dir}/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>
`,
  )
  const child = spawn(daemon.path as string, [`--config-file=${config}`, '--nofork', '--print-address=1'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  onTestFinished(() => void child.kill('SIGTERM'))
  return new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').once('data', (line: string) => resolve(line.trim()))
    child.once('exit', (code) => reject(new Error(`dbus-daemon exited (${code})`)))
  })
}

interface Received extends DesktopNotification {
  readonly urgencyHint: number
}

/** A test notification server owning org.freedesktop.Notifications on `address`. */
async function notificationServer(address: string, options: { answer?: boolean } = {}): Promise<Received[]> {
  const bus = dbus.sessionBus({ busAddress: address })
  onTestFinished(() => bus.disconnect())
  const received: Received[] = []
  bus.addMethodHandler((message: dbus.Message) => {
    if (message.interface !== 'org.freedesktop.Notifications' || message.member !== 'Notify') return false
    const [appName, , , summary, body, , hints, expireTimeoutMs] = message.body as [
      string,
      number,
      string,
      string,
      string,
      string[],
      Record<string, dbus.Variant>,
      number,
    ]
    received.push({
      appName,
      summary,
      body,
      expireTimeoutMs,
      urgency: 'normal',
      urgencyHint: hints.urgency?.value as number,
    })
    if (options.answer !== false) bus.send(dbus.Message.newMethodReturn(message, 'u', [40 + received.length]))
    return true
  })
  expect(await bus.requestName('org.freedesktop.Notifications', 0)).toBe(dbus.RequestNameReply.PRIMARY_OWNER)
  return received
}

const note: DesktopNotification = {
  appName: 'Test',
  summary: 'Hello',
  body: 'a & b',
  urgency: 'critical',
  expireTimeoutMs: 0,
}

describe.skipIf(daemon.missing)('desktop notifications over a real session bus', () => {
  it('sends a notification the server receives, and returns its id', async () => {
    const address = await sessionBus()
    const received = await notificationServer(address)
    expect(await sendNotification(address, note, 5000)).toBe(41)
    expect(received).toEqual([
      { appName: 'Test', summary: 'Hello', body: 'a & b', expireTimeoutMs: 0, urgency: 'normal', urgencyHint: 2 },
    ])
  })

  it('no notification server, a server that never answers, no bus at all: clear errors within the bound', async () => {
    const address = await sessionBus()
    await expect(sendNotification(address, note, 5000)).rejects.toMatchObject({
      code: 'NOTIFY_FAILED',
      message: expect.stringContaining('ServiceUnknown'),
    })
    await notificationServer(address, { answer: false })
    await expect(sendNotification(address, note, 300)).rejects.toMatchObject({ code: 'NOTIFY_TIMEOUT' })
    await expect(sendNotification(`unix:path=${await tempRoot()}/none`, note, 2000)).rejects.toMatchObject({
      code: 'NOTIFY_FAILED',
    })
  })

  it('the alert from the built agent: once per boot, only while the check has not passed', async () => {
    const address = await sessionBus()
    const received = await notificationServer(address)
    const box = await gateSandbox()
    await touch(box.done)
    // The same manifest with no delay: this machine may have booted less than two minutes ago.
    const config = join(box.root, 'no-delay.yaml')
    await writeFile(config, (await readFile(box.config, 'utf8')).replace(/delayMs: 120000/, 'delayMs: 0'))
    const env = { ...box.env, DBUS_SESSION_BUS_ADDRESS: address, XDG_STATE_HOME: join(box.root, 'state') }
    const alert = () =>
      start([process.execPath, AGENT, '--root', box.root, '--config', config, '--json', 'apt-gate', '--alert'], { env })
    const first = alert()
    expect(await first.ended, first.stderr()).toEqual({ code: 0, signal: null })
    expect(JSON.parse(first.stdout())).toEqual({ sent: true, id: 41 })
    expect(received).toHaveLength(1)
    expect(received[0]).toMatchObject({
      appName: 'Qubes-Whonix',
      summary: 'Whonix template: updates are blocked',
      urgencyHint: 2,
      expireTimeoutMs: 0,
    })
    expect(received[0]?.body).toContain('has failed 0 s after boot')
    expect(received[0]?.body).toContain(manifest.aptGate.help.policyLine)
    const again = alert()
    expect(await again.ended).toEqual({ code: 0, signal: null })
    expect(JSON.parse(again.stdout())).toEqual({ sent: false, reason: 'the user was told already since this boot' })
    await touch(box.secure)
    const passed = start(
      [process.execPath, AGENT, '--root', box.root, '--config', config, '--json', 'apt-gate', '--alert'],
      { env: { ...env, XDG_STATE_HOME: join(box.root, 'other') } },
    )
    expect(await passed.ended).toEqual({ code: 0, signal: null })
    expect(JSON.parse(passed.stdout())).toEqual({ sent: false, reason: 'the check has passed' })
    expect(received).toHaveLength(1)
  })
})

describe('the alert decision', () => {
  function fakes(uptimeMs: number): AlertDependencies & { slept: number[]; sent: DesktopNotification[] } {
    const slept: number[] = []
    const sent: DesktopNotification[] = []
    return {
      slept,
      sent,
      bootId: async () => '0a1b2c3d-0000-4000-8000-000000000001',
      uptimeMs: () => uptimeMs,
      sleep: async (ms) => void slept.push(ms),
      send: async (_address, notification) => (sent.push(notification), 7),
    }
  }

  it('waits until the delay after boot, then alerts once while the check is pending', async () => {
    const box = await gateSandbox()
    const env = { ...box.env, XDG_RUNTIME_DIR: '/run/user/1000', XDG_STATE_HOME: join(box.root, 'state') }
    const context = await createContext({ root: box.root, manifest, env })
    const early = fakes(100_000)
    expect(await runAlert(context, early)).toEqual({ sent: true, id: 7 })
    expect(early.slept).toEqual([20_000])
    expect(early.sent[0]?.body).toContain('has not passed 120 s after boot')
    expect(await runAlert(context, fakes(500_000))).toEqual({
      sent: false,
      reason: 'the user was told already since this boot',
    })
  })

  it('no alert outside a Whonix template; the body escapes markup', async () => {
    const box = await gateSandbox('workstation')
    const context = await createContext({ root: box.root, manifest, env: box.env })
    expect(await runAlert(context, fakes(500_000))).toEqual({ sent: false, reason: 'not a template' })
    const template = await gateSandbox()
    const templateContext = await createContext({ root: template.root, manifest, env: template.env })
    const text = alertNotification(
      {
        ...templateContext,
        manifest: {
          ...manifest,
          aptGate: { ...manifest.aptGate, help: { ...manifest.aptGate.help, policyLine: 'a <b> & c' } },
        },
      },
      await markerReader(templateContext)(),
    )
    expect(text.body).toContain('a &lt;b&gt; &amp; c')
  })

  it('finds the session bus the way libdbus and systemd set it', () => {
    expect(sessionBusAddress({ DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1000/bus' })).toBe(
      'unix:path=/run/user/1000/bus',
    )
    expect(sessionBusAddress({ DBUS_SESSION_BUS_ADDRESS: 'unix:abstract=/tmp/x;unix:path=/tmp/y' })).toBe(
      'unix:path=/tmp/y',
    )
    expect(
      sessionBusAddress({ DBUS_SESSION_BUS_ADDRESS: 'unix:abstract=/tmp/x', XDG_RUNTIME_DIR: '/run/user/1000' }),
    ).toBe('unix:path=/run/user/1000/bus')
    expect(sessionBusAddress({ XDG_RUNTIME_DIR: 'relative' })).toBeNull()
    expect(sessionBusAddress({})).toBeNull()
  })
})
