import { spawn } from 'node:child_process'
import { chmod, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { AGENT, runAgent } from '../helpers/cli'
import { READY, simulatedRoot, startDaemon } from '../agent/daemon/helper'

// An unprivileged user of the qube against the daemon's control socket (0666): thousands of
// connections of every bad kind, and every slot held. The daemon's log stays a few lines,
// root's `status` is answered, and the user's own `status` says busy, never "not running".

const NOBODY = 65534
const STORM_MS = 4000
const isRoot = process.getuid?.() === 0

/**
 * The storm, run as its own process with the attacker's uid: 8 loops hold a connection that
 * sends nothing, and the rest connect as fast as they can with a bad call each (closed at
 * once, garbage, a byte order mark, input where none is allowed, a good call left unread).
 */
const STORM = `
const net = require('node:net')
const [path, ms] = process.argv.slice(1)
const until = performance.now() + Number(ms)
let made = 0
const kinds = [
  (s) => s.destroy(),
  (s) => s.end('garbage\\0'),
  (s) => s.end(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('agent.DaemonStatus dom0\\0')])),
  (s) => s.end('agent.DaemonStatus dom0\\0some input'),
  (s) => s.write('agent.DaemonStatus dom0\\0'),
  (s) => s.end('agent.DaemonStatus+' + 'x'.repeat(300) + ' dom0\\0'),
]
const once = (act) => new Promise((resolve) => {
  const s = net.connect({ path, allowHalfOpen: true })
  made++
  s.on('error', () => undefined)
  s.on('connect', () => act(s))
  s.resume().on('end', () => s.destroy())
  s.on('close', resolve)
  setTimeout(() => s.destroy(), 3000)
})
const hold = async () => { while (performance.now() < until) await once(() => undefined) }
const flood = async (index) => { while (performance.now() < until) await once(kinds[(made + index) % kinds.length]) }
Promise.all([...Array.from({ length: 8 }, hold), ...Array.from({ length: 24 }, (_, i) => flood(i))]).then(() => console.log(JSON.stringify({ made })))
`

function stormAs(uid: number, path: string): Promise<{ made: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', STORM, path, String(STORM_MS)], {
      uid,
      gid: uid,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (text: string) => (out += text))
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out) as { made: number }) : reject(new Error(`the storm exited ${code}`)),
    )
  })
}

const statusOf = async (root: string, asUser?: number) => {
  const run = await runAgent(['--root', root, 'status', '--json'], asUser === undefined ? {} : { asUser })
  expect(run.stderr).toBe('')
  return (JSON.parse(run.stdout) as { daemon: { running: boolean; busy?: boolean; pid?: number; reason?: string } })
    .daemon
}

/** A simulated workstation's daemon, run as it is (not verbose), under a root the attacker's uid can enter. */
async function daemonReachableByAll() {
  const root = await simulatedRoot('workstation')
  // The temporary root is its owner's alone: the attacker must reach the socket.
  await chmod(root, 0o755)
  const daemon = startDaemon(root, [], { command: [process.execPath, AGENT, '--root', root, 'daemon'] })
  await daemon.waitForLog(READY)
  return { root, daemon, runDir: join(root, 'run/qubes-whonix-agent') }
}

describe.skipIf(!isRoot)('a control-socket storm from an unprivileged user', () => {
  it('keeps the log to a few lines, serves root, and tells the user busy rather than "not running"', async () => {
    const { root, daemon, runDir } = await daemonReachableByAll()
    expect(((await stat(join(runDir, 'control'))).mode & 0o777).toString(8)).toBe('666')
    expect(((await stat(join(runDir, 'control-root'))).mode & 0o777).toString(8)).toBe('600')
    expect((await stat(runDir)).uid).toBe(0)
    const linesBefore = daemon.log().split('\n').length

    const storm = stormAs(NOBODY, join(runDir, 'control'))
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const [asRoot, asNobody] = await Promise.all([statusOf(root), statusOf(root, NOBODY)])
    const { made } = await storm
    const lines = daemon
      .log()
      .split('\n')
      .slice(linesBefore - 1)
      .filter((line) => line !== '')
    console.log(
      `control-socket storm: ${made} connections in ${STORM_MS} ms as uid ${NOBODY}; ${lines.length} log lines:\n${lines.join('\n')}`,
    )

    // Root is answered in full on its own socket, whatever the storm holds.
    expect(asRoot).toMatchObject({ running: true, pid: daemon.child.pid })
    expect(asRoot.busy).toBeUndefined()
    // The user is told the daemon is there: answered, or busy, never "not running".
    expect(asNobody.running).toBe(true)
    if (asNobody.busy) expect(asNobody.reason).toMatch(/busy|did not answer/)
    // Every kind of refusal is one line per 10 s at most: a handful for thousands of connections.
    // Thousands here; the bound only says the storm was one, on a loaded machine too.
    expect(made).toBeGreaterThan(300)
    expect(lines.length).toBeLessThanOrEqual(16)
    expect(daemon.child.exitCode).toBeNull()
    // Once the storm is over, the user is answered in full again.
    expect(await statusOf(root, NOBODY)).toMatchObject({ running: true, pid: daemon.child.pid })
  }, 40_000)

  it('says busy, not "not running", when every slot of the shared socket is held', async () => {
    const { root, daemon, runDir } = await daemonReachableByAll()
    const path = join(runDir, 'control')
    // Eight connections that never send their descriptor, renewed as the daemon cuts them; "held" once all are in.
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const net = require('node:net'); let up = 0; const hold = () => { const s = net.connect(process.argv[1]); s.on('connect', () => ++up === 8 && console.log('held')); s.on('error', () => undefined); s.on('close', hold) }; for (let i = 0; i < 8; i++) hold(); setTimeout(() => process.exit(0), 15000)`,
        path,
      ],
      { uid: NOBODY, gid: NOBODY, stdio: ['ignore', 'pipe', 'ignore'] },
    )
    onTestFinished(() => void holder.kill())
    await new Promise((resolve) => holder.stdout.once('data', resolve))
    // A query may slip in while a cut holder reconnects: none may say "not running", and the held slots show as busy.
    const answers = []
    for (let index = 0; index < 3; index++) answers.push(await statusOf(root, NOBODY))
    holder.kill()
    for (const answer of answers) expect(answer.running).toBe(true)
    const busy = answers.find((answer) => answer.busy)
    expect(busy?.reason).toMatch(/busy: 8 calls already open/)
    expect(await statusOf(root)).toMatchObject({ running: true, pid: daemon.child.pid })
  }, 30_000)
})
