import type { Argv } from 'yargs'
import type { Io } from '../io'

/** Options every command accepts (see cli.ts). */
export interface GlobalArgs {
  readonly root: string
  readonly config: string | undefined
  readonly json: boolean
  readonly verbose: boolean
}

/** One CLI command: its yargs shape and what it does; returns the exit code. */
export interface AgentCommand<A = object> {
  readonly command: string | readonly string[]
  readonly describe: string
  readonly builder?: (yargs: Argv<GlobalArgs>) => Argv<A & GlobalArgs>
  run(args: A & GlobalArgs, io: Io): Promise<number>
}

export const defineCommand = <A>(command: AgentCommand<A>): AgentCommand<A> => command
