import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { aptGateFiles } from '../../../agent/apt-gate/files'
import { generatedFiles } from '../../../agent/features'
import { writeGeneratedFiles } from '../../../agent/generated/write'
import { agentForAnyUser } from '../../helpers/cli'
import { startDaemon, type DaemonProcess } from '../daemon/helper'
import { startStandInTor } from '../tor/helpers'
import { freePort, simulatedQube, startHttpServer, startTinyproxy } from '../updates-proxy/helpers'

/**
 * The real path of a Whonix template's updates: a client -> the template daemon's updates gate
 * -> qrexec-client-vm (stand-in) -> sys-whonix's daemon (qubes.UpdatesProxy) -> a real
 * tinyproxy -> a counting origin (on 127.0.0.2: tinyproxy refuses its own address).
 */

const CLIENT_STAND_IN = fileURLToPath(new URL('../../stand-ins/qrexec-client-vm.mjs', import.meta.url))
// An unsigned flat repository (apt takes it with [trusted=yes]) listing one package.
const PACKAGES =
  'Package: demo\nVersion: 1.0\nArchitecture: all\nFilename: demo_1.0_all.deb\nSize: 1\nDescription: demo\n'
const RELEASE = [
  'Origin: test',
  'Label: test',
  'Date: Thu, 01 Jan 2026 00:00:00 UTC',
  'Architectures: amd64 all',
  'SHA256:',
  ` ${createHash('sha256').update(PACKAGES).digest('hex')} ${PACKAGES.length} Packages`,
  '',
].join('\n')
const WHEEL_NAME = 'demo-1.0-py3-none-any.whl'
/** 8 MiB that are not all alike, to compare what arrives byte for byte. */
export const BIG = Buffer.alloc(8 * 1024 * 1024)
for (let index = 0; index < BIG.length; index += 4) BIG.writeUInt32LE((index * 2654435761) >>> 0, index)

export interface Origin {
  readonly port: number
  readonly url: string
  /** The paths asked since the last reset. */
  requests(): string[]
  reset(): void
}

/** A wheel pip accepts (a zip with the least metadata), built by Python's own zipfile. */
function demoWheel(dir: string): Buffer {
  const file = join(dir, WHEEL_NAME)
  const script = [
    'import sys, zipfile',
    'z = zipfile.ZipFile(sys.argv[1], "w")',
    'z.writestr("demo/__init__.py", "")',
    'z.writestr("demo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\\nName: demo\\nVersion: 1.0\\n")',
    'z.writestr("demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")',
    'z.writestr("demo-1.0.dist-info/RECORD", "")',
    'z.close()',
  ].join('\n')
  execFileSync('/usr/bin/python3', ['-c', script, file])
  return readFileSync(file)
}

export async function startOrigin(dir: string): Promise<Origin> {
  const wheel = demoWheel(dir)
  const files: Record<string, Buffer | string> = {
    '/debian/Release': RELEASE,
    '/debian/Packages': PACKAGES,
    '/simple/demo/': `<html><body><a href="/files/${WHEEL_NAME}">${WHEEL_NAME}</a></body></html>\n`,
    [`/files/${WHEEL_NAME}`]: wheel,
    '/hello': 'hello from the origin\n',
    '/big': BIG,
  }
  let asked: string[] = []
  const { port } = await startHttpServer('127.0.0.2', (request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname
    asked.push(path)
    const body = files[path]
    if (body === undefined) return void response.writeHead(404).end()
    const type = path.endsWith('/') ? 'text/html' : 'application/octet-stream'
    response.writeHead(200, { 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(body)) }).end(body)
  })
  return { port, url: `http://127.0.0.2:${port}`, requests: () => [...asked], reset: () => void (asked = []) }
}

export interface UpdatesPath {
  readonly origin: Origin
  readonly template: {
    readonly root: string
    readonly config: string
    readonly gatePort: number
    readonly daemon: DaemonProcess
  }
  /** qrexec calls the template made (one line each). */
  calls(): Promise<number>
  readonly checkDir: string
  readonly secure: string
  readonly done: string
  /** The environment a client in the template uses: the gate as its proxy. */
  readonly clientEnv: NodeJS.ProcessEnv
}

/** sys-whonix (daemon, tinyproxy, Tor ready) and a Whonix template whose daemon runs the gate. */
export async function startUpdatesPath(tinyproxy: string, options: { hook?: boolean } = {}): Promise<UpdatesPath> {
  const tor = await startStandInTor(100)
  const proxyPort = await freePort()
  const gateway = await simulatedQube('gateway', {
    'updatesProxy.gateway.proxy.port': proxyPort,
    'tor.control': `127.0.0.1:${tor.port}`,
  })
  await writeGeneratedFiles(
    gateway.root,
    (await generatedFiles(gateway.manifest)).filter((file) => file.path.startsWith('/etc/qubes/rpc-config/')),
  )
  const gatewayDaemon = startDaemon(gateway.root, ['--config', gateway.config])
  await startTinyproxy(tinyproxy, gateway.root, gateway.manifest, { port: proxyPort })
  const origin = await startOrigin(gateway.root)

  const gatePort = await freePort()
  const template = await simulatedQube('template-gateway', {
    'updatesProxy.check.url': `http://127.0.0.1:${gatePort}/`,
    'updatesProxy.check.timeoutSec': 30,
  })
  const checkDir = join(template.root, template.manifest.paths.updatesProxyCheckDir)
  await mkdir(checkDir, { recursive: true })
  const client = join(template.root, 'usr/bin/qrexec-client-vm')
  await writeFile(client, `#!/bin/sh\nexec '${process.execPath}' '${CLIENT_STAND_IN}' "$@"\n`)
  await chmod(client, 0o755)
  if (options.hook)
    await writeGeneratedFiles(
      template.root,
      aptGateFiles(template.manifest, {
        root: template.root,
        agent: [process.execPath, await agentForAnyUser(), '--config', template.config],
      }),
    )
  const callLog = join(template.root, 'qrexec-calls')
  await writeFile(callLog, '')
  await gatewayDaemon.waitForLog(/<6>serving /)
  const env = {
    PATH: '/usr/bin:/bin',
    QWA_QREXEC_SERVICE_SOCKET: join(gateway.root, 'run/qubes-rpc/qubes.UpdatesProxy'),
    QWA_QREXEC_SOURCE: 'whonix-gateway-18',
    QWA_QREXEC_CALL_LOG: callLog,
  }
  const daemon = startDaemon(template.root, ['--config', template.config], { env })
  await daemon.waitForLog(/updates-gate: 127\.0\.0\.1:\d+: listening/)
  const { markers } = template.manifest.updatesProxy
  const clientEnv: NodeJS.ProcessEnv = {
    PATH: `${join(template.root, 'usr/bin')}:/usr/bin:/bin`,
    LC_ALL: 'C',
    HOME: template.root,
    http_proxy: `http://127.0.0.1:${gatePort}/`,
  }
  return {
    origin,
    template: { root: template.root, config: template.config, gatePort, daemon },
    calls: async () => (await readFile(callLog, 'utf8')).split('\n').filter(Boolean).length,
    checkDir,
    secure: join(checkDir, markers.secure),
    done: join(checkDir, markers.done),
    clientEnv,
  }
}
