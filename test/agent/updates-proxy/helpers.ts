import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from 'node:http'
import { createServer, connect, type Server } from 'node:net'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { onTestFinished } from 'vitest'
import { parse, stringify } from 'yaml'
import { parseManifest } from '../../../agent/features'
import type { Manifest } from '../../../agent/manifest/schema'
import { buildSimulatedQube } from '../../../agent/simulate/build'
import { PROFILES, type ProfileName } from '../../../agent/simulate/profiles'
import { errorPage } from '../../../agent/tinyproxy/error-page'
import { spawnLogged } from '../../helpers/process'
import { tempRoot } from '../../helpers/sandbox'

/** Shared parts of the updates-proxy suites: a test manifest, a simulated qube, a real tinyproxy. */

export const SHIPPED_MANIFEST = new URL('../../../qubes.yaml', import.meta.url)

type Tree = Record<string, unknown>

function setIn(tree: Tree, path: string, value: unknown): void {
  const keys = path.split('.')
  const last = keys.pop() as string
  let node = tree
  for (const key of keys) node = node[key] as Tree
  node[last] = value
}

/** qubes.yaml with some settings changed (`'updatesProxy.check.url': ...`), written to a file, parsed and validated. */
export async function testManifest(
  dir: string,
  changes: Readonly<Record<string, unknown>>,
): Promise<{ path: string; manifest: Manifest }> {
  const tree = parse(await readFile(SHIPPED_MANIFEST, 'utf8')) as Tree
  // Tests run the check as whoever runs them.
  setIn(tree, 'updatesProxy.check.user', userInfo().username)
  for (const [key, value] of Object.entries(changes)) setIn(tree, key, value)
  const text = stringify(tree)
  const path = join(dir, 'qubes-test.yaml')
  await writeFile(path, text)
  return { path, manifest: await parseManifest(text, path) }
}

export async function simulatedQube(
  profile: ProfileName,
  changes: Readonly<Record<string, unknown>> = {},
): Promise<{ root: string; config: string; manifest: Manifest }> {
  const root = await tempRoot('qwa-up-')
  const { path, manifest } = await testManifest(root, changes)
  await buildSimulatedQube(root, PROFILES[profile], manifest)
  return { root, config: path, manifest }
}

/** A free loopback TCP port (bound, then released). */
export async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.on('connect', () => (socket.destroy(), resolve(true)))
    socket.on('error', () => resolve(false))
  })
}

export async function waitUntil(
  what: string,
  condition: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
  stepMs = 5,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, stepMs))
  }
}

export interface Tinyproxy {
  readonly port: number
  readonly process: ChildProcess
  readonly log: () => string
  stop(): Promise<void>
}

/**
 * A real tinyproxy (Debian's) on a free loopback port, arranged as on sys-whonix: our error
 * page, and a filter refusing the proxy's own address, so a GET of the proxy's own URL is
 * answered with the error page. `extra` lines go at the end of its config.
 */
/** The config lines of a tinyproxy arranged like Qubes' updates proxy, refusing its own address. */
export async function tinyproxyConfigLines(dir: string, port: number, errorPagePath: string): Promise<string[]> {
  const filter = join(dir, 'tinyproxy-filter')
  await writeFile(filter, '^127\\.0\\.0\\.1$\n^localhost$\n')
  return [
    `Port ${port}`,
    'Listen 127.0.0.1',
    'Timeout 30',
    `DefaultErrorFile "${errorPagePath}"`,
    'LogLevel Info',
    'MaxClients 50',
    'Allow 127.0.0.1',
    `Filter "${filter}"`,
    'FilterType ere',
  ]
}

export async function startTinyproxy(
  program: string,
  dir: string,
  manifest: Manifest,
  options: { port?: number; extra?: readonly string[]; configFile?: string } = {},
): Promise<Tinyproxy> {
  for (let attempt = 0; ; attempt++) {
    const port = options.port ?? (await freePort())
    let config = options.configFile
    if (config === undefined) {
      const page = join(dir, `tinyproxy-error-${port}.html`)
      await writeFile(page, errorPage(manifest))
      config = join(dir, `tinyproxy-${port}.conf`)
      await writeFile(
        config,
        [...(await tinyproxyConfigLines(dir, port, page)), ...(options.extra ?? []), ''].join('\n'),
      )
    }
    const { child, log, exited, stop } = spawnLogged(program, ['-d', '-c', config])
    const up = await Promise.race([
      waitUntil('tinyproxy to listen', () => accepts(port), 5000).then(() => true),
      exited,
    ])
    if (up) return { port, process: child, log, stop }
    if (options.port !== undefined || options.configFile !== undefined || attempt >= 3)
      throw new Error(`tinyproxy did not start: ${log()}`)
  }
}

/** A plain HTTP server answering every request with `handler`. */
export async function startHttpServer(
  host: string,
  handler: RequestListener,
): Promise<{ port: number; server: HttpServer }> {
  const server = createHttpServer(handler)
  server.listen(0, host)
  await once(server, 'listening')
  onTestFinished(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))))
  return { port: (server.address() as { port: number }).port, server }
}

export async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()))
}
