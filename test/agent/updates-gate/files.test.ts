import { execFile, spawnSync } from 'node:child_process'
import { cp, mkdir, symlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Socket } from 'node:net'
import { PassThrough } from 'node:stream'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { generatedFiles } from '../../../agent/features'
import { writeGeneratedFiles } from '../../../agent/generated/write'
import { loadManifest, shippedManifest } from '../../../agent/features'
import { markerExistsSync } from '../../../agent/role/facts'
import {
  gateSocketUnit,
  gateSocketUnitName,
  qubesForwarderDropIn,
  whonixTemplateUnit,
} from '../../../agent/updates-gate/files'
import { serviceUnit } from '../../../agent/qrexec-files/units'
import { isProbeRequest, readHead } from '../../../agent/updates-gate/head'
import { requirePart } from '../../helpers/parts'
import { tempRoot } from '../../helpers/sandbox'

const run = promisify(execFile)
const analyze = requirePart('systemd-analyze', 'systemd')
const manifest = shippedManifest()
const { gate } = manifest.updatesProxy
const UNIT = join(manifest.systemd.unitDirectory, gate.unit)
const DROP_IN = join(manifest.systemd.unitDirectory, `${gate.qubesSocket}.d`, gate.dropIn)
const SOCKET = join(manifest.systemd.unitDirectory, gateSocketUnitName(manifest))
// Qubes' socket unit as qubes-core-agent ships it (the drop-in extends it).
const QUBES_SOCKET = [
  '[Unit]',
  'Description=Forward connection to updates proxy over Qubes RPC',
  'ConditionPathExists=/var/run/qubes-service/updates-proxy-setup',
  'ConditionPathExists=!/var/run/qubes-service/qubes-updates-proxy',
  '',
  '[Socket]',
  'ListenStream=127.0.0.1:8082',
  'BindToDevice=lo',
  'Accept=true',
  '',
  '[Install]',
  'WantedBy=multi-user.target',
  '',
].join('\n')

const lines = (text: string) => text.split('\n')

describe("the files that put the gate in Qubes' forwarder's place", () => {
  it("a sysinit oneshot whose conditions are the rule leaves the flag; the drop-in keeps Qubes' socket off where it is", async () => {
    const unit = lines(whonixTemplateUnit(manifest))
    for (const line of [
      'DefaultDependencies=no',
      'ConditionPathExists=/run/qubes/this-is-templatevm',
      'ConditionPathExists=|/usr/share/anon-gw-base-files/gateway',
      'ConditionPathExists=|/usr/share/anon-ws-base-files/workstation',
      'Before=sysinit.target qubes-updates-proxy-forwarder.socket',
      `ExecStart=/usr/bin/touch ${gate.flag}`,
      'ExecStartPost=-/usr/bin/systemctl --no-block stop qubes-updates-proxy-forwarder.socket',
      'WantedBy=sysinit.target',
    ])
      expect(unit).toContain(line)
    expect(lines(qubesForwarderDropIn(manifest))).toEqual(
      expect.arrayContaining([`After=${gate.unit}`, `ConditionPathExists=!${gate.flag}`]),
    )
    expect((await generatedFiles(manifest)).map((file) => file.path)).toEqual(expect.arrayContaining([UNIT, DROP_IN]))
  })

  it("the gate's socket is systemd's, bound at sockets.target where the flag is, and passed to the daemon by name", async () => {
    expect(lines(gateSocketUnit(manifest))).toEqual(
      expect.arrayContaining([
        `ConditionPathExists=${gate.flag}`,
        'ConditionPathExists=/run/qubes-service/updates-proxy-setup',
        'ConditionPathExists=!/run/qubes-service/qubes-updates-proxy',
        `After=${gate.unit}`,
        'ListenStream=127.0.0.1:8082',
        'BindToDevice=lo',
        'FileDescriptorName=updates-gate',
        `Service=${manifest.services.units.service}`,
        'WantedBy=sockets.target',
      ]),
    )
    expect(lines(gateSocketUnit(manifest))).not.toContain('Accept=true')
    const sockets = lines(serviceUnit(manifest)).find((line) => line.startsWith('Sockets='))
    expect(sockets?.split(/[= ]/)).toContain('qubes-whonix-agent-updates-gate.socket')
    expect((await generatedFiles(manifest)).map((file) => file.path)).toContain(SOCKET)
  })

  it.skipIf(analyze.missing)(
    "are accepted by systemd-analyze verify (with a stand-in of Qubes' socket unit)",
    async () => {
      const root = await tempRoot('qwa-gate-units-')
      await mkdir(join(root, 'usr/lib/systemd'), { recursive: true })
      await cp('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), {
        recursive: true,
        verbatimSymlinks: true,
      })
      await symlink('usr/lib', join(root, 'lib'))
      const files = (await generatedFiles(await loadManifest())).filter((file) =>
        [UNIT, DROP_IN, SOCKET].includes(file.path),
      )
      await writeGeneratedFiles(root, [
        ...files,
        {
          path: join(manifest.systemd.unitDirectory, gate.qubesSocket),
          kind: 'file',
          mode: 0o644,
          content: QUBES_SOCKET,
          purpose: 'test',
        },
      ])
      await writeGeneratedFiles(root, [
        {
          path: join(manifest.systemd.unitDirectory, 'qubes-updates-proxy-forwarder@.service'),
          kind: 'file',
          mode: 0o644,
          content: '[Service]\nExecStart=/usr/bin/true\nStandardInput=socket\n',
          purpose: 'test',
        },
        // The daemon's unit (verified itself with the package, test/packages/deb.test.ts).
        {
          path: join(manifest.systemd.unitDirectory, manifest.services.units.service),
          kind: 'file',
          mode: 0o644,
          content: '[Service]\nExecStart=/usr/bin/true\n',
          purpose: 'test',
        },
      ])
      await mkdir(join(root, 'usr/bin'), { recursive: true })
      for (const program of ['touch', 'true', 'systemctl'])
        await cp(`/usr/bin/${program}`, join(root, 'usr/bin', program))
      for (const unit of [UNIT, SOCKET, join(manifest.systemd.unitDirectory, gate.qubesSocket)]) {
        const result = await run(analyze.path as string, ['verify', `--root=${root}`, '--man=no', unit]).catch(
          (error: { code: number; stderr: string }) => error,
        )
        expect({ unit, stderr: result.stderr }).toEqual({ unit, stderr: '' })
      }
    },
  )
})

/** Ways a qube's marker files can look: [what is at the template marker, at the gateway marker]. */
type Thing = 'file' | 'directory' | 'dangling link' | 'nothing'
const CASES: readonly { readonly template: Thing; readonly gateway: Thing; readonly whonixTemplate: boolean }[] = [
  { template: 'file', gateway: 'file', whonixTemplate: true },
  { template: 'file', gateway: 'directory', whonixTemplate: true },
  { template: 'file', gateway: 'dangling link', whonixTemplate: false },
  { template: 'file', gateway: 'nothing', whonixTemplate: false },
  { template: 'nothing', gateway: 'file', whonixTemplate: false },
  { template: 'directory', gateway: 'file', whonixTemplate: true },
]

async function place(path: string, thing: Thing): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  if (thing === 'file') await writeFile(path, '')
  if (thing === 'directory') await mkdir(path)
  if (thing === 'dangling link') await symlink('/nonexistent', path)
}

const TEMPLATE_MARKER = join(manifest.paths.runQubes, manifest.qubes.typeMarkers.template)
const conditionsOf = (unit: string) => lines(unit).filter((line) => line.startsWith('ConditionPathExists='))
const canUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['--mount', 'true']).status === 0

/**
 * systemd's own verdict on the unit's conditions, in a mount namespace where /run and the
 * marker's directory are fresh tmpfs holding this case (the host is not touched).
 */
function systemdSays(template: Thing, gateway: Thing): boolean {
  const make = (path: string, thing: Thing) =>
    ({
      file: `touch ${path}`,
      directory: `mkdir ${path}`,
      'dangling link': `ln -s /nonexistent ${path}`,
      nothing: ':',
    })[thing]
  const gatewayDir = dirname(manifest.paths.gatewayMarker)
  const script = [
    'mount --make-rprivate / && mount -t tmpfs tmpfs /run && mkdir -p /usr/share && mkdir -p "$GWDIR" && mount -t tmpfs tmpfs "$GWDIR" || exit 99',
    `mkdir -p ${manifest.paths.runQubes}`,
    make(TEMPLATE_MARKER, template),
    make(manifest.paths.gatewayMarker, gateway),
    'exec systemd-analyze condition "$@"',
  ].join('\n')
  const result = spawnSync(
    'unshare',
    ['--mount', '--', 'sh', '-c', script, 'sh', ...conditionsOf(whonixTemplateUnit(manifest))],
    { env: { ...process.env, GWDIR: gatewayDir }, encoding: 'utf8' },
  )
  if (result.status === 99) throw new Error(`no mount namespace: ${result.stderr}`)
  return result.status === 0
}

describe('one rule for the Whonix-template markers: systemd, the shell and the agent agree', () => {
  it.skipIf(!canUnshare || analyze.missing)(
    'a file or a directory counts, a link to nothing does not, in all three',
    async () => {
      for (const { template, gateway, whonixTemplate } of CASES) {
        const root = await tempRoot('qwa-gate-rule-')
        await place(join(root, TEMPLATE_MARKER), template)
        await place(join(root, manifest.paths.gatewayMarker), gateway)
        const at = (path: string) => join(root, path)
        const shell =
          spawnSync('sh', [
            '-c',
            '[ -e "$1" ] && { [ -e "$2" ] || [ -e "$3" ]; }',
            'sh',
            at(TEMPLATE_MARKER),
            at(manifest.paths.gatewayMarker),
            at(manifest.paths.workstationMarker),
          ]).status === 0
        const agent =
          markerExistsSync(at(TEMPLATE_MARKER)) &&
          (markerExistsSync(at(manifest.paths.gatewayMarker)) || markerExistsSync(at(manifest.paths.workstationMarker)))
        const verdicts = { systemd: systemdSays(template, gateway), shell, agent }
        expect(verdicts, `${template} / ${gateway}`).toEqual({
          systemd: whonixTemplate,
          shell: whonixTemplate,
          agent: whonixTemplate,
        })
      }
    },
  )
})

describe("the check's probe, and only it, passes a gate whose check has not passed", () => {
  const url = new URL('http://127.0.0.1:8082/')
  const head = (text: string) => ({ bytes: Buffer.from(text, 'latin1'), end: text.indexOf('\r\n\r\n') + 4, cut: null })
  const PROBE = 'GET / HTTP/1.1\r\nAccept: text/html\r\nConnection: close\r\nHost: 127.0.0.1:8082\r\n\r\n'

  it('the probe, in any header order and case', () => {
    expect(isProbeRequest(head(PROBE), url)).toBe(true)
    expect(
      isProbeRequest(
        head('GET / HTTP/1.1\r\nhost: 127.0.0.1:8082\r\nconnection: close\r\naccept: text/html\r\n\r\n'),
        url,
      ),
    ).toBe(true)
  })

  it('anything else: another URL, method, header or host, a body, a second request, an unfinished head', () => {
    for (const request of [
      'GET http://deb.debian.org/debian/ HTTP/1.1\r\nAccept: text/html\r\nConnection: close\r\nHost: 127.0.0.1:8082\r\n\r\n',
      'POST / HTTP/1.1\r\nAccept: text/html\r\nConnection: close\r\nHost: 127.0.0.1:8082\r\n\r\n',
      'GET / HTTP/1.1\r\nAccept: text/html\r\nConnection: close\r\nHost: deb.debian.org\r\n\r\n',
      'GET / HTTP/1.1\r\nAccept: text/html\r\nConnection: close\r\nHost: 127.0.0.1:8082\r\nContent-Length: 3\r\n\r\n',
      'GET / HTTP/1.1\r\nAccept: text/html\r\nConnection: close\r\nHost: 127.0.0.1:8082\r\nHost: 127.0.0.1:8082\r\n\r\n',
      'GET / HTTP/1.1\r\nAccept: text/html\r\nHost: 127.0.0.1:8082\r\n\r\n',
      'CONNECT deb.debian.org:443 HTTP/1.1\r\nHost: deb.debian.org:443\r\n\r\n',
    ])
      expect(isProbeRequest(head(request), url), request).toBe(false)
    expect(isProbeRequest({ ...head(PROBE), bytes: Buffer.from(`${PROBE}GET /x HTTP/1.1\r\n\r\n`) }, url)).toBe(false)
    expect(isProbeRequest({ bytes: Buffer.from(PROBE.slice(0, 30)), end: null, cut: 'ended' }, url)).toBe(false)
  })

  it('bytes the trim used to hide: a bare LF, NBSP, VT, FF, a lone CR, a tab or space around a value, NUL', () => {
    const probe = (accept: string) =>
      `GET / HTTP/1.1\r\nAccept: ${accept}\r\nConnection: close\r\nHost: 127.0.0.1:8082\r\n\r\n`
    for (const accept of [
      'text/html\n\n',
      'text/html\xa0',
      'text/html\x0b',
      'text/html\x0c',
      'text/html\r',
      'text/html\t',
      'text/html ',
      ' text/html',
      'text/html\x00',
    ])
      expect(isProbeRequest(head(probe(accept)), url), JSON.stringify(accept)).toBe(false)
    expect(isProbeRequest(head(PROBE.replace('Accept: ', 'Accept:')), url)).toBe(false)
    expect(isProbeRequest(head(PROBE.replace('Accept:', 'Accept :')), url)).toBe(false)
    expect(isProbeRequest(head(PROBE.replace('Host', 'H\xf6st')), url)).toBe(false)
    expect(isProbeRequest(head(probe('text/html')), url)).toBe(true)
  })

  it('reads a head split anywhere, and stops at its bounds of size and time', async () => {
    const socket = new PassThrough() as unknown as Socket
    const reading = readHead(socket, 8192, 5000)
    for (const piece of [PROBE.slice(0, 40), PROBE.slice(40, PROBE.length - 2), PROBE.slice(-2)])
      (socket as unknown as PassThrough).write(piece)
    expect(await reading).toEqual({ bytes: Buffer.from(PROBE), end: PROBE.length, cut: null })
    const large = new PassThrough() as unknown as Socket
    const tooLarge = readHead(large, 256, 5000)
    ;(large as unknown as PassThrough).write(`GET / HTTP/1.1\r\nX: ${'a'.repeat(300)}\r\n\r\n`)
    expect((await tooLarge).cut).toBe('too-large')
    const silent = new PassThrough() as unknown as Socket
    expect((await readHead(silent, 8192, 50)).cut).toBe('timeout')
  })
})
