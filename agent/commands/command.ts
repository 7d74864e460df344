import { CodedError } from '../../rpc/errors'
import type { Argv } from 'yargs'
import type { DaemonPart } from '../daemon/parts'
import type { GeneratedFile } from '../generated/file'
import type { Io } from '../io'
import type { Manifest } from '../manifest/schema'
import type { HandlerTable } from '../services/environment'

/** Options every command accepts (see cli.ts). */
export interface GlobalArgs {
  readonly root: string
  readonly config: string | undefined
  readonly json: boolean
  readonly verbose: boolean
}

/**
 * What the composition root (agent/features.ts) hands every command. Commands never import
 * it: it loads them.
 */
export interface Features {
  loadManifest(file?: string): Promise<Manifest>
  generatedFiles(manifest: Manifest): Promise<GeneratedFile[]>
  readonly handlers: HandlerTable
  loadParts(): Promise<readonly DaemonPart[]>
  /** Frees what service handlers share across calls (the Tor readiness connections), after the last call. */
  releaseShared(): void
}

/** One CLI command: its yargs shape and what it does; returns the exit code. */
export interface AgentCommand<A = object> {
  readonly command: string | readonly string[]
  readonly describe: string
  readonly builder?: (yargs: Argv<GlobalArgs>) => Argv<A & GlobalArgs>
  run(args: A & GlobalArgs, io: Io, features: Features): Promise<number>
}

export const defineCommand = <A>(command: AgentCommand<A>): AgentCommand<A> => command

/** A command run without its action: a usage error (exit 2) that lists the actions. */
export function requireAction<T extends string>(command: string, action: T | undefined, actions: readonly string[]): T {
  if (action !== undefined) return action
  throw new CodedError(
    'USAGE',
    `${command} needs an action: ${actions.join(', ')} (see: qubes-whonix-agent ${command} --help)`,
    { exitCode: 2 },
  )
}
