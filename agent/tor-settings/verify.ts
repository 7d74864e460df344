import { cp, lstat, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { CodedError } from '../../rpc/errors'
import type { AgentContext } from '../context'
import { spawnCommand, type Command, type Runner } from '../run'
import { rewriteChain, UnsupportedChain, type RewrittenChain } from './include-chain'

// Bind-mounts the staged file (or directory) over the real one, then runs Tor, all in a private mount namespace.
const IN_NAMESPACE = '"$1" --bind -- "$2" "$3" && shift 3 && exec "$@"'
const MAX_OUTPUT = 256 * 1024

export interface VerifyPlan {
  /** The new file, or a copy of its directory holding it. */
  readonly staged: string
  /** What the staged copy hides: our file when it exists, else its directory. */
  readonly covered: string
}

/**
 * `tor --verify-config` over the whole configuration tor@default reads (its defaults and
 * torrc, with every include), where our file is the new one: in a mount namespace of its
 * own, so nothing on disk changes and no other process sees it.
 */
export function verifyCommand(context: AgentContext, plan: VerifyPlan): Command {
  const settings = context.manifest.torSettings
  const tor = torVerifyArgv(context, context.paths.under(settings.defaultsTorrc), context.paths.under(settings.torrc))
  return withLimits(context, [
    settings.unshareProgram,
    '--mount',
    '--propagation',
    'private',
    '--',
    settings.shellProgram,
    '-c',
    IN_NAMESPACE,
    'sh',
    settings.mountProgram,
    plan.staged,
    plan.covered,
    ...tor,
  ])
}

/** `tor --verify-config` alone, over the rewritten chain: one program to start instead of four. */
export function chainVerifyCommand(context: AgentContext, chain: RewrittenChain): Command {
  return withLimits(context, torVerifyArgv(context, chain.defaults, chain.torrc))
}

const torVerifyArgv = (context: AgentContext, defaults: string, torrc: string): [string, ...string[]] => [
  context.manifest.torSettings.torProgram,
  '--verify-config',
  '--defaults-torrc',
  defaults,
  '-f',
  torrc,
  '--RunAsDaemon',
  '0',
]

const withLimits = (context: AgentContext, argv: [string, ...string[]]): Command => ({
  argv,
  timeoutMs: context.manifest.torSettings.verifyTimeoutMs,
  maxOutputBytes: MAX_OUTPUT,
  env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
})

/** Tor's reason in its output: the first warning or error line, without its timestamp. */
export function refusalReason(output: string): string {
  const lines = output.split('\n').filter((line) => /\[(warn|err)\]/.test(line) && !/running Tor as root/.test(line))
  const reason = (
    lines.find((line) => /Failed to parse|validate/.test(line)) ??
    lines[0] ??
    output.trim().split('\n').at(-1) ??
    ''
  ).replace(/^.*?\[(warn|err)\] /, '')
  return reason.slice(0, 300) || 'no reason given'
}

/**
 * The new file alone, to be mounted over ours; when ours does not exist yet (a mount needs
 * something to cover), a copy of its directory (regular files and links as they are) with
 * the new file in it, to be mounted over the directory.
 */
async function stage(context: AgentContext, content: string, scratch: string): Promise<VerifyPlan> {
  const { torSettings } = context.manifest
  const file = context.paths.under(torSettings.file)
  const directory = dirname(file)
  if ((await lstat(file).catch(() => null))?.isFile()) {
    const staged = join(scratch, basename(file))
    await writeFile(staged, content, { mode: 0o644 })
    return { staged, covered: file }
  }
  const entries = await readdir(directory)
  if (entries.length > torSettings.maxStagedFiles)
    throw new CodedError(
      'TOR_CONFIG_UNVERIFIED',
      `${dirname(torSettings.file)} holds more than ${torSettings.maxStagedFiles} entries; not copying it to verify`,
    )
  const staged = join(scratch, 'torrc.d')
  await cp(directory, staged, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true })
  await writeFile(join(staged, basename(file)), content, { mode: 0o644 })
  return { staged, covered: directory }
}

/**
 * The command that checks the configuration with the new content in place: Tor alone over
 * the rewritten chain when its includes are of the forms reproduced exactly; otherwise
 * Tor in a private mount namespace where the new file covers ours.
 */
async function prepare(context: AgentContext, content: string, scratch: string): Promise<Command> {
  const { torSettings } = context.manifest
  try {
    const chain = await rewriteChain(
      context.paths.under(torSettings.defaultsTorrc),
      context.paths.under(torSettings.torrc),
      context.paths.under(torSettings.file),
      scratch,
    )
    await Promise.all([
      ...[...chain.files].map(([name, text]) =>
        writeFile(join(scratch, name), text, { mode: 0o600, encoding: 'latin1' }),
      ),
      writeFile(chain.candidate, content, { mode: 0o600 }),
    ])
    return chainVerifyCommand(context, chain)
  } catch (error) {
    if (!(error instanceof UnsupportedChain)) throw error
    return verifyCommand(context, await stage(context, content, scratch))
  }
}

/** Refuses (TOR_CONFIG_REFUSED, with Tor's words) a configuration Tor would not start with. */
export async function verifyWithTor(context: AgentContext, content: string, run: Runner = spawnCommand): Promise<void> {
  const { torSettings, paths } = context.manifest
  // Root's own directory, never a user-writable one such as /tmp.
  const runDir = context.paths.under(paths.agentRunDir)
  await Promise.all([
    mkdir(dirname(context.paths.under(torSettings.file)), { recursive: true, mode: 0o755 }),
    mkdir(runDir, { recursive: true, mode: 0o755 }),
  ])
  const scratch = await mkdtemp(join(runDir, 'tor-verify-'))
  try {
    const command = await prepare(context, content, scratch)
    const result = await run(command)
    if (result.exitCode === 0) return
    if (result.spawnError !== undefined)
      throw new CodedError('TOR_CONFIG_UNVERIFIED', `cannot run ${command.argv[0]}: ${result.spawnError}`)
    if (result.timedOut)
      throw new CodedError(
        'TOR_CONFIG_UNVERIFIED',
        `tor --verify-config took longer than ${context.manifest.torSettings.verifyTimeoutMs} ms`,
      )
    const output = `${result.stdout}\n${result.stderr}`
    // No log line of Tor's: the namespace or the mount failed before Tor ran, or Tor could not start.
    if (!/\[(notice|warn|err)\]/.test(output))
      throw new CodedError(
        'TOR_CONFIG_UNVERIFIED',
        `cannot verify the configuration: ${output.trim().split('\n').at(-1)?.slice(0, 200) ?? 'no output'}`,
      )
    throw new CodedError('TOR_CONFIG_REFUSED', `Tor refuses the new configuration: ${refusalReason(output)}`)
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}
