import type { Command, Runner } from '../run'
import { configError } from './drop-ins'

/**
 * Reads the drop-ins the way upstream does, without evaluating their text ourselves: a bash
 * child checks each file's syntax (bash -n), sources them in order with errexit and nounset,
 * then prints the variables back as NAME=VALUE records separated by NUL on fd 3. What the
 * files print themselves goes to stderr, so it cannot pose as data.
 */
const SCRIPT = `set -o errexit -o nounset -o pipefail
exec 3>&1 1>&2
names=$1; shift
for file in "$@"; do
  if ! "$BASH" -n -- "$file"; then printf 'qwa: bash syntax error in %s\\n' "$file"; exit 3; fi
done
INTERNAL_OPEN_PORTS=''
NO_NAT_USERS=''
for file in "$@"; do source "$file"; done
for name in $names; do
  if [ -n "\${!name+set}" ]; then printf '%s=%s\\0' "$name" "\${!name}" >&3; fi
done
printf 'qwa-end\\0' >&3
`

const MAX_OUTPUT_BYTES = 1024 * 1024
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

export function sourceCommand(
  bash: string,
  names: readonly string[],
  files: readonly string[],
  timeoutMs: number,
): Command {
  // A clean environment: the process's own is no configuration source here.
  return {
    argv: [bash, '--noprofile', '--norc', '-c', SCRIPT, 'qwa-firewall-config', names.join(' '), ...files],
    timeoutMs,
    maxOutputBytes: MAX_OUTPUT_BYTES,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
  }
}

/** Parses the child's records; only the names asked for are kept. */
export function parseSourced(untrustedOutput: string, names: readonly string[]): Map<string, string> {
  const records = untrustedOutput.split('\0')
  if (records.at(-1) !== '' || records.at(-2) !== 'qwa-end')
    throw configError('the configuration did not finish (a drop-in ended the shell early)')
  const wanted = new Set(names)
  const values = new Map<string, string>()
  for (const record of records.slice(0, -2)) {
    const equals = record.indexOf('=')
    const name = record.slice(0, equals)
    if (equals < 1 || !NAME.test(name) || !wanted.has(name))
      throw configError('the configuration shell printed an unexpected record')
    values.set(name, record.slice(equals + 1))
  }
  return values
}

export async function sourceDropIns(
  run: Runner,
  bash: string,
  names: readonly string[],
  files: readonly string[],
  timeoutMs: number,
): Promise<Map<string, string>> {
  const result = await run(sourceCommand(bash, names, files, timeoutMs))
  if (result.exitCode !== 0) {
    const why =
      result.spawnError ??
      (result.timedOut
        ? `did not finish within ${timeoutMs} ms`
        : result.overflowed
          ? 'printed too much'
          : (result.stderr.trim().split('\n').at(-1) ?? '') || `exit ${result.exitCode ?? result.signal}`)
    throw configError(`reading the firewall configuration failed: ${why.slice(0, 300)}`)
  }
  return parseSourced(result.stdout, names)
}
