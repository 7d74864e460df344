import { CodedError } from '../rpc/errors'
import { plainCommandArgs } from './cli-fast'
import type { AgentCommand, Features } from './commands/command'
import type { Io } from './io'
import { AGENT_VERSION } from './version'

/** The commands by name, each loaded when it runs (the list is in agent/features.ts). */
export type CommandTable = Readonly<Record<string, () => Promise<AgentCommand<never>>>>

const OPTIONS_WITH_VALUE = new Set(['--root', '--config'])

/** Where the command word of argv is, skipping the global options; -1 when there is none. */
function commandIndex(argv: readonly string[]): number {
  for (let index = 0; index < argv.length; index++) {
    const token = argv[index] ?? ''
    if (token === '--') return -1
    if (OPTIONS_WITH_VALUE.has(token)) index++
    else if (!token.startsWith('-')) return index
  }
  return -1
}

/** The command word of argv, skipping the global options; undefined when there is none. */
export function commandWord(argv: readonly string[]): string | undefined {
  return argv[commandIndex(argv)]
}

/**
 * argv with the words qrexec passes to `rpc-exec SERVICE` (the caller's argument, which may
 * start with "-") kept from yargs: after SERVICE nothing is an option, as if `--` were there.
 */
export function protectCallerWords(argv: readonly string[]): string[] {
  const index = commandIndex(argv)
  if (argv[index] !== 'rpc-exec' || index + 2 > argv.length - 1 || argv[index + 2] === '--') return [...argv]
  return [...argv.slice(0, index + 2), '--', ...argv.slice(index + 2)]
}

async function commandsFor(argv: readonly string[], commands: CommandTable): Promise<AgentCommand<never>[]> {
  const word = commandWord(argv)
  const load = word === undefined ? undefined : commands[word]
  // Help, and the suggestion for a mistyped command, need them all.
  return load ? [await load()] : Promise.all(Object.values(commands).map((loadOne) => loadOne()))
}

/** Parses argv and runs one command; resolves to the exit code. Errors propagate to main.ts. */
export async function runCli(
  argv: readonly string[],
  io: Io,
  features: Features & { readonly commands: CommandTable },
): Promise<number> {
  const word = commandWord(argv)
  const load = word === undefined ? undefined : features.commands[word]
  if (word !== undefined && load) {
    const command = await load()
    const plain = plainCommandArgs(argv, word, command)
    if (plain) return command.run(plain as never, io, features)
  }
  // Loaded here, not at start: a plain command runs without it.
  const { default: yargs } = await import('yargs/yargs')
  let exitCode = 0
  let parser = yargs(protectCallerWords(argv))
    .scriptName('qubes-whonix-agent')
    .usage('$0 <command> [options]\n\nWhonix integration for Qubes OS.')
    .option('root', {
      type: 'string',
      default: '/',
      describe: 'Re-root every system path under DIR (a simulated qube)',
      requiresArg: true,
    })
    .option('config', {
      type: 'string',
      describe: 'The manifest to use instead of the built-in qubes.yaml',
      requiresArg: true,
    })
    .option('json', { type: 'boolean', default: false, describe: 'Print machine-readable JSON' })
    .option('verbose', { type: 'boolean', default: false, alias: 'v', describe: 'Say more (evidence, details)' })
    .strict()
    .demandCommand(1, 'Name a command (see --help).')
    .recommendCommands()
    .help()
    .version(AGENT_VERSION)
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((message, error) => {
      if (error) throw error
      throw new CodedError('USAGE', message.replace(/\s*\n\s*/g, ' '), { exitCode: 2 })
    })
  for (const command of await commandsFor(argv, features.commands)) {
    parser = parser.command(
      command.command as string,
      command.describe,
      (y) => (command.builder ? command.builder(y as never) : y),
      async (args) => {
        exitCode = await command.run(args as never, io, features)
      },
    )
  }
  await parser.parseAsync()
  return exitCode
}
