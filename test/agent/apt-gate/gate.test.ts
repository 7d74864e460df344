import { execFileSync } from 'node:child_process'
import { mkdir, rename, rm, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { commandName, gateScope, type GateFacts } from '../../../agent/apt-gate/conditions'
import { markerReader } from '../../../agent/apt-gate/facts'
import { aptGateFiles, aptHookConfig, aptHookScript, uwtDropIn } from '../../../agent/apt-gate/files'
import { runGate } from '../../../agent/apt-gate/gate'
import { describeProbe } from '../../../agent/apt-gate/health'
import { parseStat, updateLabel } from '../../../agent/apt-gate/label'
import { refusalText, stoppedLine, warningLine, type RefusalFacts } from '../../../agent/apt-gate/refusal'
import { inForegroundGroup } from '../../../agent/apt-gate/signals'
import { aptGateStatus } from '../../../agent/apt-gate/status'
import { waitForMarkers } from '../../../agent/apt-gate/wait'
import { createContext } from '../../../agent/context'
import { tempRoot } from '../../helpers/sandbox'
import { gateSandbox, manifest, touch } from './helpers'

const settings = manifest.aptGate
const template: GateFacts = { skipValue: undefined, qubesdbRead: true, templateMarker: true, whonixMarker: true }

describe('gateScope: upstream conditions, exact command names', () => {
  it('gates the apt programs by exact name, uwt wrapper names included', () => {
    for (const program of [
      '/usr/bin/apt',
      '/usr/bin/apt-get',
      'apt-file',
      '/usr/bin/aptitude',
      '/usr/bin/aptitude-curses',
      '/usr/bin/apt-get.anondist',
    ])
      expect(gateScope({ kind: 'command', program }, template, settings), program).toEqual({ gated: true })
  })

  it('leaves alone what upstream gated only because "apt" is in its path', () => {
    for (const program of [
      '/usr/bin/apt-cache',
      '/usr/bin/aptly',
      '/usr/bin/rapt',
      '/opt/apt/bin/curl',
      '/usr/bin/.anondist',
      '/usr/bin/apt-get.real',
    ])
      expect(gateScope({ kind: 'command', program }, template, settings), program).toMatchObject({
        gated: false,
        reason: expect.stringContaining('not one of the gated commands'),
      })
  })

  it('torified_check=skip, no qubesdb-read, not a template, not Whonix: not gated, each saying why', () => {
    const mode = { kind: 'command', program: '/usr/bin/apt-get' } as const
    expect(gateScope(mode, { ...template, skipValue: 'skip' }, settings)).toEqual({
      gated: false,
      reason: 'torified_check=skip is set',
    })
    expect(gateScope(mode, { ...template, skipValue: 'no' }, settings)).toEqual({ gated: true })
    expect(gateScope(mode, { ...template, qubesdbRead: false }, settings)).toMatchObject({
      gated: false,
      reason: expect.stringContaining('qubesdb-read'),
    })
    expect(gateScope(mode, { ...template, templateMarker: false }, settings)).toEqual({
      gated: false,
      reason: 'not a template',
    })
    expect(gateScope({ kind: 'hook' }, { ...template, whonixMarker: false }, settings)).toEqual({
      gated: false,
      reason: 'not a Whonix template',
    })
    expect(gateScope({ kind: 'hook' }, template, settings)).toEqual({ gated: true })
  })

  it('commandName strips the displaced-wrapper suffix only', () => {
    expect(commandName('/usr/bin/apt-get.anondist', '.anondist')).toBe('apt-get')
    expect(commandName('apt', '.anondist')).toBe('apt')
    expect(commandName('/x/.anondist', '.anondist')).toBe('.anondist')
  })
})

describe('the hook names the front end', () => {
  it('parses /proc stat lines with odd command names', () => {
    expect(parseStat('123 (apt-get) S 77 123 1 0')).toEqual({ name: 'apt-get', parent: 77 })
    expect(parseStat('9 (a) b (c)) R 4 9')).toEqual({ name: 'a) b (c)', parent: 4 })
    expect(parseStat('9 (x\u001b[31m) R 4 9')).toEqual({ name: 'x?[31m', parent: 4 })
    expect(parseStat('garbage')).toBeNull()
  })

  it('skips the shells APT runs the hook through', () => {
    expect(updateLabel(['sh', 'apt-get'])).toBe('apt-get update')
    expect(updateLabel(['dash', 'sh', 'python3'])).toBe('python3 update')
    expect(updateLabel(['sh'])).toBe('apt update')
  })

  it('tells the foreground process group from /proc/self/stat', () => {
    expect(inForegroundGroup('1 (node) S 0 500 500 34816 500 0')).toBe(true)
    expect(inForegroundGroup('1 (node) S 0 500 500 34816 600 0')).toBe(false)
    expect(inForegroundGroup('1 (node) S 0 500 500 0 -1 0')).toBe(false)
  })
})

describe('the refusal text', () => {
  const facts: RefusalFacts = {
    command: '/usr/bin/apt-get',
    gate: '/etc/uwt.d/40_qubes.conf',
    outcome: 'failed',
    reading: { directory: 'present', inode: 1, secureProxy: 'missing', checkDone: 'present', verdict: 'failed' },
    directory: '/run/updatesproxycheck',
    markers: manifest.updatesProxy.markers,
    timeoutMs: 120_000,
    templateName: 'whonix-workstation-18',
    health: 'nothing answers at http://127.0.0.1:8082/',
    help: settings.help,
    recheck: 'sudo systemctl restart some-check.service',
    stopped: stoppedLine('command', 'http://127.0.0.1:8082/'),
  }

  it("starts with upstream's line, then says what to do in dom0", () => {
    const lines = refusalText(facts).split('\n')
    expect(lines[0]).toBe(
      "WARNING: Execution of '/usr/bin/apt-get' prevented by '/etc/uwt.d/40_qubes.conf' because no torified Qubes updates proxy found.",
    )
    const text = lines.join('\n')
    expect(text).toContain(`       ${settings.help.policyLine}\n`)
    expect(text).toContain(settings.help.policyFile)
    expect(text).toContain('qvm-tags whonix-workstation-18 add whonix-updatevm')
    expect(text).toContain('qvm-start --skip-if-running sys-whonix')
    expect(text).toContain('sudo systemctl restart some-check.service')
    expect(text).toContain('Updates qube: nothing answers at http://127.0.0.1:8082/')
    expect(text).toContain('whonix-secure-proxy-check-done exists')
  })

  it('gives the reason of each outcome and notes markers that do not count', () => {
    expect(
      refusalText({
        ...facts,
        outcome: 'timeout',
        reading: { ...facts.reading!, checkDone: 'missing', verdict: 'pending' },
      }),
    ).toContain('no result within 120 s: neither')
    expect(
      refusalText({ ...facts, outcome: 'timeout', reading: { ...facts.reading!, directory: 'missing' } }),
    ).toContain('/run/updatesproxycheck does not even exist')
    expect(
      refusalText({ ...facts, outcome: 'unusable', reading: { ...facts.reading!, directory: 'not-a-directory' } }),
    ).toContain('is not a directory')
    expect(
      refusalText({ ...facts, outcome: 'unusable', reading: { ...facts.reading!, secureProxy: 'unreadable' } }),
    ).toContain('permission denied')
    const linked = refusalText({ ...facts, reading: { ...facts.reading!, secureProxy: 'not-a-file' } })
    expect(linked).toContain('(/run/updatesproxycheck/whonix-secure-proxy is not a regular file')
    const unnamed = refusalText({ ...facts, templateName: null, health: null })
    expect(unnamed).toContain('qvm-tags THIS-TEMPLATE add')
    expect(unnamed).not.toContain('Updates qube:')
  })

  it('describes what the updates proxy answered', () => {
    const url = 'http://127.0.0.1:8082/'
    expect(describeProbe({ kind: 'failed', refused: true, error: 'x' }, url, 'sys-whonix')).toContain(
      'forwarder is not running',
    )
    expect(
      describeProbe({ kind: 'failed', refused: false, error: 'no response within 1500 ms' }, url, 'sys-whonix'),
    ).toContain('no response within 1500 ms')
    const answer = {
      kind: 'answer',
      status: 403,
      proof: false,
      notReady: null,
      body: Buffer.alloc(0),
      truncated: false,
    } as const
    expect(describeProbe(answer, url, 'sys-whonix')).toContain(
      "not as a Whonix-Gateway: this template's updates go to a qube that is not sys-whonix",
    )
    expect(describeProbe({ ...answer, proof: true }, url, 'sys-whonix')).toContain('answers as a Whonix-Gateway now')
    expect(
      describeProbe({ ...answer, status: 503, notReady: 'Tor is not ready: bootstrap 45%' }, url, 'sys-whonix'),
    ).toContain('bootstrap 45%')
  })
})

describe('the wait', () => {
  // A re-check far beyond the test's own time limit: whatever resolves did so on an inotify event.
  const eventsOnly = { timeoutMs: 600_000, recheckMs: 600_000 }

  async function setup() {
    const box = await gateSandbox()
    const context = await createContext({ root: box.root, manifest, env: box.env })
    return { ...box, read: markerReader(context) }
  }

  it('proceeds on the marker appearing, through inotify', async () => {
    const box = await setup()
    const waiting = waitForMarkers({ directory: box.dir, read: box.read, ...eventsOnly })
    await new Promise((resolve) => setTimeout(resolve, 50))
    await touch(box.secure)
    expect(await waiting).toMatchObject({ outcome: 'passed', reading: { secureProxy: 'present' } })
  })

  it('refuses on check-done without the secure marker', async () => {
    const box = await setup()
    const waiting = waitForMarkers({ directory: box.dir, read: box.read, ...eventsOnly })
    await touch(box.done)
    expect(await waiting).toMatchObject({ outcome: 'failed' })
  })

  it('a missing directory (two levels) is watched from its ancestors until it appears', async () => {
    const box = await setup()
    await rm(join(box.root, 'run'), { recursive: true })
    const waiting = waitForMarkers({ directory: box.dir, read: box.read, ...eventsOnly })
    await new Promise((resolve) => setTimeout(resolve, 50))
    await mkdir(join(box.root, 'run'))
    await new Promise((resolve) => setTimeout(resolve, 20))
    await mkdir(box.dir)
    await new Promise((resolve) => setTimeout(resolve, 20))
    await touch(box.secure)
    expect(await waiting).toMatchObject({ outcome: 'passed' })
  })

  it('a directory replaced during the wait is watched anew', async () => {
    const box = await setup()
    const waiting = waitForMarkers({ directory: box.dir, read: box.read, ...eventsOnly })
    await new Promise((resolve) => setTimeout(resolve, 50))
    const fresh = `${box.dir}.new`
    await mkdir(fresh)
    await rm(box.dir, { recursive: true })
    await rename(fresh, box.dir)
    await new Promise((resolve) => setTimeout(resolve, 50))
    await touch(box.done)
    expect(await waiting).toMatchObject({ outcome: 'failed' })
  })

  it('a link or a directory never proves a pass; anything at check-done refuses at once, as `test -e` sees it', async () => {
    const box = await setup()
    await touch(join(box.root, 'elsewhere'))
    await symlink(join(box.root, 'elsewhere'), box.secure)
    const result = await waitForMarkers({ directory: box.dir, read: box.read, timeoutMs: 300, recheckMs: 100 })
    expect(result).toMatchObject({ outcome: 'timeout', reading: { secureProxy: 'not-a-file', checkDone: 'missing' } })
    await mkdir(box.done)
    expect(await waitForMarkers({ directory: box.dir, read: box.read, ...eventsOnly })).toMatchObject({
      outcome: 'failed',
      reading: { checkDone: 'not-a-file' },
    })
    await rm(box.done, { recursive: true })
    await symlink('/nonexistent', box.done)
    expect(await waitForMarkers({ directory: box.dir, read: box.read, ...eventsOnly })).toMatchObject({
      outcome: 'failed',
      reading: { checkDone: 'not-a-file' },
    })
  })

  it('a file where the directory should be is unusable at once', async () => {
    const box = await setup()
    await rm(box.dir, { recursive: true })
    await touch(box.dir)
    expect(await waitForMarkers({ directory: box.dir, read: box.read, ...eventsOnly })).toMatchObject({
      outcome: 'unusable',
      reading: { directory: 'not-a-directory' },
    })
  })

  it('ends as aborted on the signal, or when its caller is gone', async () => {
    const box = await setup()
    const controller = new AbortController()
    const waiting = waitForMarkers({ directory: box.dir, read: box.read, ...eventsOnly, signal: controller.signal })
    controller.abort()
    expect(await waiting).toMatchObject({ outcome: 'aborted' })
    let wanted = true
    const orphan = waitForMarkers({
      directory: box.dir,
      read: box.read,
      timeoutMs: 600_000,
      recheckMs: 50,
      stillWanted: () => wanted,
    })
    wanted = false
    expect(await orphan).toMatchObject({ outcome: 'aborted' })
  })
})

describe('runGate and the status verdict', () => {
  it('not gated in a Whonix AppVM or a plain qube; proceeds, waits or refuses in a template', async () => {
    for (const profile of ['workstation', 'plain-qube'] as const) {
      const box = await gateSandbox(profile)
      const context = await createContext({ root: box.root, manifest, env: box.env })
      expect(await aptGateStatus(context)).toMatchObject({ verdict: 'not-gated' })
      expect(await runGate(context, { mode: { kind: 'hook' }, command: 'x', gate: 'y' })).toMatchObject({
        verdict: 'not-gated',
      })
    }
    const box = await gateSandbox()
    const context = await createContext({ root: box.root, manifest, env: box.env })
    expect(await aptGateStatus(context)).toMatchObject({ verdict: 'waits' })
    await touch(box.done)
    expect(await aptGateStatus(context)).toEqual({
      verdict: 'refuses',
      reason: 'the torified updates proxy check has failed',
    })
    const refused = await runGate(context, {
      mode: { kind: 'hook' },
      command: 'apt-get update',
      gate: 'G',
      health: async () => 'fine',
    })
    expect(refused).toMatchObject({ verdict: 'refused', outcome: 'failed' })
    expect(refused.verdict === 'refused' && refused.text.split('\n')[0]).toBe(warningLine('apt-get update', 'G'))
    expect(refused.verdict === 'refused' && refused.text).toContain('qvm-tags whonix-workstation-18 add')
    await touch(box.secure)
    expect(await aptGateStatus(context)).toMatchObject({ verdict: 'proceeds' })
    const skipping = await createContext({ root: box.root, manifest, env: { ...box.env, torified_check: 'skip' } })
    expect(await aptGateStatus(skipping)).toEqual({ verdict: 'not-gated', reason: 'torified_check=skip is set' })
  })
})

describe('the generated files', () => {
  it('are valid bash, sh, apt.conf and systemd user units', async () => {
    const box = await gateSandbox()
    execFileSync('bash', ['-n', join(box.root, settings.files.uwtDropIn)])
    execFileSync('sh', ['-n', join(box.root, settings.files.aptHookScript)])
    const dumped = execFileSync(
      'apt-config',
      ['-c', join(box.root, settings.files.aptHook), 'dump', 'APT::Update::Pre-Invoke'],
      { encoding: 'utf8' },
    )
    const script = join(box.root, settings.files.aptHookScript)
    expect(dumped).toContain(`APT::Update::Pre-Invoke:: "if [ -x ${script} ]; then ${script}; fi";`)
    const runtime = await tempRoot()
    const unitDir = join(box.root, settings.files.userUnitDir)
    const units = [`${settings.alert.unit}.timer`, `${settings.alert.unit}.service`].map((name) => join(unitDir, name))
    const verified = execFileSync('systemd-analyze', ['--user', 'verify', ...units], {
      env: { ...process.env, XDG_RUNTIME_DIR: runtime },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    expect(verified).toBe('')
  })

  it('the installed text names the system paths and the installed agent only', () => {
    const dropIn = uwtDropIn(manifest)
    expect(dropIn).toContain(
      '[ -f /run/updatesproxycheck/whonix-secure-proxy ] && [ ! -L /run/updatesproxycheck/whonix-secure-proxy ]',
    )
    expect(dropIn).toContain(
      'exec {gate_fd}< <(exec /usr/bin/qubes-whonix-agent apt-gate --command "${uwtwrapper_parent:-}")',
    )
    for (const key of ['/usr/bin/apt', '/usr/bin/apt-get', '/usr/bin/apt-file', '/usr/bin/aptitude-curses'])
      expect(dropIn).toContain(`uwtwrapper["${key}"]="0"`)
    expect(aptHookScript(manifest)).toContain('\n/usr/bin/qubes-whonix-agent apt-gate --hook\n')
    expect(aptHookConfig(manifest)).toContain(
      'APT::Update::Pre-Invoke { "if [ -x /usr/lib/qubes-whonix-agent/apt-update-gate ]; then /usr/lib/qubes-whonix-agent/apt-update-gate; fi"; };',
    )
    const paths = aptGateFiles(manifest).map((file) => file.path)
    expect(paths).toEqual(
      expect.arrayContaining([
        '/etc/uwt.d/40_qubes.conf',
        '/etc/apt/apt.conf.d/40qubes-whonix-apt-gate',
        '/usr/lib/systemd/user/timers.target.wants/qubes-whonix-apt-gate-alert.timer',
      ]),
    )
    expect(() => aptHookConfig(manifest, { root: '/tmp/a"b', agent: ['x'] })).toThrow(/apt.conf/)
    expect(() => aptHookConfig(manifest, { root: '/tmp/a b;x', agent: ['x'] })).toThrow(/apt.conf/)
  })
})
