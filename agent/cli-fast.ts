import type { AgentCommand, GlobalArgs } from './commands/command'

const VALUE_OPTIONS: Readonly<Record<string, 'root' | 'config'>> = { '--root': 'root', '--config': 'config' }
const FLAG_OPTIONS: Readonly<Record<string, 'json' | 'verbose'>> = {
  '--json': 'json',
  '--verbose': 'verbose',
  '-v': 'verbose',
}

/**
 * The arguments of a command that takes none of its own (no builder, no positionals), when
 * argv is that command word and the global options, each at most once in its plain form
 * (`--root DIR`, `--json`, ...): what yargs would give it, without yargs' start-up time.
 * Undefined for anything else (help, `--root=DIR`, a repeated or unknown option): yargs
 * parses it then, and says what is wrong.
 */
export function plainCommandArgs(
  argv: readonly string[],
  word: string,
  command: AgentCommand<never>,
): GlobalArgs | undefined {
  if (command.builder !== undefined || command.command !== word) return undefined
  const args: { root: string; config: string | undefined; json: boolean; verbose: boolean } = {
    root: '/',
    config: undefined,
    json: false,
    verbose: false,
  }
  const seen = new Set<string>()
  let sawWord = false
  for (let index = 0; index < argv.length; index++) {
    const token = argv[index]!
    const name = VALUE_OPTIONS[token] ?? FLAG_OPTIONS[token]
    if (token === word && !sawWord) sawWord = true
    else if (name === undefined || seen.has(name)) return undefined
    else if (token in VALUE_OPTIONS) {
      const value = argv[++index]
      if (value === undefined || value === '' || value.startsWith('-')) return undefined
      args[name as 'root' | 'config'] = value
    } else args[name as 'json' | 'verbose'] = true
    if (name !== undefined) seen.add(name)
  }
  return sawWord ? args : undefined
}
