import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { chmod, chown, lchown, mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { onTestFinished } from 'vitest'
import { tempRoot } from '../helpers/sandbox'

/** The unprivileged attacker: a uid no other test uses and no file on the system belongs to. */
export const ATTACKER = 64123

export const isRoot = process.getuid?.() === 0
if (!isRoot && process.env.CI === 'true')
  throw new Error('the hostile tests run as root in CI (they switch to an unprivileged uid to attack)')
if (!isRoot) console.warn('skipping: the hostile tests need root')

// Debian's python3 (an attacker cannot use a copy in root's home): the package's path.
const PYTHON = '/usr/bin/python3'
export const python = { missing: !existsSync(PYTHON) }
if (python.missing && process.env.CI === 'true')
  throw new Error(`${PYTHON} is required in CI (Debian package python3; .ci/system-packages lists it)`)
if (python.missing) console.warn(`skipping: ${PYTHON} is not installed`)
const EXCHANGER = readFileSync(new URL('./exchange.py', import.meta.url), 'utf8')

/** A temporary root that the attacker may enter (mkdtemp makes it 0700). */
export async function hostileRoot(prefix: string): Promise<string> {
  const root = await tempRoot(prefix)
  await chmod(root, 0o755)
  return root
}

/** Creates directories (root's, 0755) and then `path` owned by the attacker. */
export async function attackerDirectory(path: string): Promise<string> {
  await mkdir(path, { recursive: true })
  await chown(path, ATTACKER, ATTACKER)
  return path
}

export async function attackerFile(path: string, content: string): Promise<void> {
  await writeFile(path, content)
  await chown(path, ATTACKER, ATTACKER)
}

export async function attackerLink(target: string, path: string): Promise<void> {
  await symlink(target, path)
  await lchown(path, ATTACKER, ATTACKER)
}

export interface Exchanger {
  /** Stops the attacker; resolves to the number of swaps it made. */
  stop(): Promise<number>
}

/** Starts the attacker swapping `first` and `second` in `cwd` (a directory of its own) with renameat2(RENAME_EXCHANGE). */
export async function startExchanger(cwd: string, first: string, second: string): Promise<Exchanger> {
  const child = spawn(PYTHON, ['-c', EXCHANGER, first, second], {
    cwd,
    uid: ATTACKER,
    gid: ATTACKER,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: '/usr/bin:/bin' },
  })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => (out += text))
  child.stderr.setEncoding('utf8').on('data', (text: string) => (err += text))
  const exited = once(child, 'close')
  child.on('error', (error) => (err += String(error)))
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  while (!out.startsWith('ready\n')) {
    if (child.exitCode !== null || err !== '') throw new Error(`the attacker did not start: ${err}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return {
    async stop() {
      child.kill('SIGTERM')
      await exited
      const swaps = Number(out.slice('ready\n'.length).trim())
      if (!Number.isInteger(swaps)) throw new Error(`the attacker failed: ${err || out}`)
      return swaps
    },
  }
}

export const ROOT_SECRET = 'root secret: only root may read or change this\n'

/**
 * A user's home where `.xchat2` is a real directory of theirs and `decoy` their link to
 * a root-only directory holding a root file of the same name as theirs.
 */
export async function swappableHome(root: string): Promise<{ home: string; file: string; rootOnly: string }> {
  const rootOnly = join(root, 'etc/apt/apt.conf.d')
  await mkdir(rootOnly, { recursive: true, mode: 0o755 })
  await writeFile(join(rootOnly, 'xchat.conf'), ROOT_SECRET, { mode: 0o600 })
  const home = await attackerDirectory(join(root, 'home/user'))
  await attackerDirectory(join(home, '.xchat2'))
  await attackerFile(join(home, '.xchat2/xchat.conf'), 'net_proxy_host = 10.152.152.10\n')
  await attackerLink('../../etc/apt/apt.conf.d', join(home, 'decoy'))
  return { home, file: join(home, '.xchat2/xchat.conf'), rootOnly }
}
