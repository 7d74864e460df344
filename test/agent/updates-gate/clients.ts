import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { start, UPDATE_PY, type Running } from '../apt-gate/helpers'
import type { UpdatesPath } from './helpers'

/** The programs that fetch updates in a template, each run against the origin through the gate. */

export interface ClientRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * APT confined to `dir` (its own lists, cache and state), with the origin as its only source
 * and the gate as its proxy; apt.conf.d is the template's, where the APT hook is when installed.
 */
async function aptConfig(path: UpdatesPath, dir: string): Promise<NodeJS.ProcessEnv> {
  for (const sub of [
    'var/lib/apt/lists/partial',
    'var/cache/apt/archives/partial',
    'var/lib/dpkg',
    'var/log/apt',
    'etc/preferences.d',
    'etc/trusted.gpg.d',
    'etc/sources.list.d',
  ])
    await mkdir(join(dir, sub), { recursive: true })
  await mkdir(join(path.template.root, 'etc/apt/apt.conf.d'), { recursive: true })
  await writeFile(join(dir, 'var/lib/dpkg/status'), '')
  await writeFile(join(dir, 'etc/sources.list'), `deb [trusted=yes] ${path.origin.url}/debian/ ./\n`)
  const config = join(dir, 'apt.conf')
  const lines = [
    `Dir "${dir}/";`,
    `Dir::State::status "${dir}/var/lib/dpkg/status";`,
    `Dir::Etc "${dir}/etc/";`,
    `Dir::Etc::Parts "${path.template.root}/etc/apt/apt.conf.d/";`,
    `Acquire::http::Proxy "http://127.0.0.1:${path.template.gatePort}/";`,
    'Acquire::Retries "0";',
    // The lists belong to root here; apt's _apt sandbox could not enter the test's directory.
    'APT::Sandbox::User "root";',
    '',
  ]
  await writeFile(config, lines.join('\n'))
  return { ...path.clientEnv, APT_CONFIG: config }
}

let runs = 0

export type ClientName = 'apt-get update' | 'apt update' | "python3-apt's Cache.update()" | 'curl' | 'pip download'

export const CLIENTS: readonly ClientName[] = [
  'apt-get update',
  'apt update',
  "python3-apt's Cache.update()",
  'curl',
  'pip download',
]
export const APT_CLIENTS: readonly ClientName[] = ['apt-get update', 'apt update', "python3-apt's Cache.update()"]

/** Starts one client in its own directory; resolves once it has ended. */
export async function startClient(path: UpdatesPath, name: ClientName): Promise<Running> {
  const dir = join(path.template.root, `client-${++runs}`)
  await mkdir(dir, { recursive: true })
  switch (name) {
    case 'apt-get update':
      return start(['/usr/bin/apt-get', 'update'], { env: await aptConfig(path, dir) })
    case 'apt update':
      return start(['/usr/bin/apt', 'update'], { env: await aptConfig(path, dir) })
    case "python3-apt's Cache.update()":
      return start(['/usr/bin/python3', '-c', UPDATE_PY], { env: await aptConfig(path, dir) })
    case 'curl':
      return start(['/usr/bin/curl', '-sS', '--fail-with-body', '--max-time', '30', `${path.origin.url}/hello`], {
        env: path.clientEnv,
      })
    case 'pip download': {
      const argv = [
        '/usr/bin/python3',
        '-m',
        'pip',
        'download',
        '--disable-pip-version-check',
        '--no-cache-dir',
        '--no-deps',
        '--retries',
        '0',
        '--timeout',
        '30',
      ]
      const index = ['--trusted-host', '127.0.0.2', '--index-url', `${path.origin.url}/simple/`, '-d', dir, 'demo']
      return start([...argv, ...index], { env: { ...path.clientEnv, PIP_CONFIG_FILE: '/dev/null' } })
    }
  }
}

export async function runClient(path: UpdatesPath, name: ClientName): Promise<ClientRun> {
  const run = await startClient(path, name)
  const { code } = await run.ended
  return { code, stdout: run.stdout(), stderr: run.stderr() }
}

/** The origin paths each client asks for when it gets through. */
export const WANTED: Readonly<Record<ClientName, readonly string[]>> = {
  'apt-get update': ['/debian/Release', '/debian/Packages'],
  'apt update': ['/debian/Release', '/debian/Packages'],
  "python3-apt's Cache.update()": ['/debian/Release', '/debian/Packages'],
  curl: ['/hello'],
  'pip download': ['/simple/demo/', '/files/demo-1.0-py3-none-any.whl'],
}
