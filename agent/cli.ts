import yargs from 'yargs/yargs'
import { CodedError } from '../rpc/errors'
import type { AgentCommand, GlobalArgs } from './commands/command'
import { filesCommand } from './commands/files'
import { roleCommand } from './commands/role'
import { simulateCommand } from './commands/simulate'
import { statusCommand } from './commands/status'
import type { Io } from './io'

export const COMMANDS: readonly AgentCommand<never>[] = [
  roleCommand,
  statusCommand,
  simulateCommand,
  filesCommand,
] as AgentCommand<never>[]

/** Parses argv and runs one command; resolves to the exit code. Errors propagate to main.ts. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  let exitCode = 0
  let parser = yargs([...argv])
    .scriptName('qubes-whonix-agent')
    .usage('$0 <command> [options]\n\nWhonix integration for Qubes OS.')
    .option('root', { type: 'string', default: '/', describe: 'Re-root every system path under DIR (a simulated qube)', requiresArg: true })
    .option('config', { type: 'string', describe: 'The manifest to use instead of the built-in qubes.yaml', requiresArg: true })
    .option('json', { type: 'boolean', default: false, describe: 'Print machine-readable JSON' })
    .option('verbose', { type: 'boolean', default: false, alias: 'v', describe: 'Say more (evidence, details)' })
    .strict()
    .demandCommand(1, 'Name a command (see --help).')
    .recommendCommands()
    .help()
    .version(false)
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((message, error) => {
      if (error) throw error
      throw new CodedError('USAGE', message.replace(/\s*\n\s*/g, ' '), { exitCode: 2 })
    })
  for (const command of COMMANDS) {
    parser = parser.command(
      command.command as string,
      command.describe,
      (y) => (command.builder ? command.builder(y as never) : y),
      async (args) => {
        exitCode = await command.run(args as unknown as never & GlobalArgs, io)
      },
    )
  }
  await parser.parseAsync()
  return exitCode
}
