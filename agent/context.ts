import { stat } from 'node:fs/promises'
import { CodedError, errnoCode } from '../rpc/errors'
import type { Manifest, SystemPaths } from './manifest/schema'
import { rootPaths, type RootedPaths } from './paths'
import { createQubesdbReader, findQubesdbRead, type QubesdbReader } from './qubesdb/reader'
import { runCommand, spawnCommand, type Runner } from './run'

/**
 * Everything a command needs, built once from the global options. Commands receive it
 * as an argument; tests build one over a sandbox root.
 */
export interface AgentContext {
  readonly manifest: Manifest
  readonly paths: RootedPaths<SystemPaths>
  readonly qubesdb: QubesdbReader
  readonly run: Runner
  readonly env: NodeJS.ProcessEnv
}

export interface ContextOptions {
  readonly root?: string
  readonly manifest: Manifest
  readonly env?: NodeJS.ProcessEnv
  readonly run?: Runner
  /** The runner for qubesdb-read (default: direct spawn, no shell). */
  readonly runQubesdb?: Runner
}

export async function createContext(options: ContextOptions): Promise<AgentContext> {
  const { manifest } = options
  const env = options.env ?? process.env
  const run = options.run ?? runCommand
  const paths = rootPaths(manifest.paths, options.root ?? '/')
  const program = await findQubesdbRead(paths.qubesdbRead, env.PATH)
  const qubesdb = createQubesdbReader(program, manifest.qubes.qubesdb, options.runQubesdb ?? spawnCommand)
  return { manifest, paths, qubesdb, run, env }
}

/** `--root DIR` names an existing directory: anything else is a usage error (exit 2). */
export async function checkRoot(root: string): Promise<void> {
  const found = await stat(root).catch((error: unknown) => errnoCode(error) ?? 'unreadable')
  if (typeof found === 'string')
    throw new CodedError(
      'USAGE',
      `--root ${root}: ${found === 'ENOENT' ? 'no such directory' : `cannot be used (${found})`}`,
      { exitCode: 2 },
    )
  if (!found.isDirectory()) throw new CodedError('USAGE', `--root ${root}: not a directory`, { exitCode: 2 })
}

/** The context for a CLI invocation's global options; `runQubesdb` as in createContext. */
export async function contextFromArgs(
  args: { readonly root: string; readonly config: string | undefined },
  features: { loadManifest(file?: string): Promise<Manifest> },
  runQubesdb?: Runner,
): Promise<AgentContext> {
  await checkRoot(args.root)
  const manifest = await features.loadManifest(args.config)
  return createContext({ root: args.root, manifest, ...(runQubesdb === undefined ? {} : { runQubesdb }) })
}
