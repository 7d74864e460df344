import { readFile } from 'node:fs/promises'
import { CodedError } from '../../rpc/errors'
import { readAll } from '../../rpc/input'
import { contextFromArgs } from '../context'
import { printJson, type Io } from '../io'
import { currentRole } from '../role'
import { applyTorAction, type ApplyResult, type TorAction } from '../tor-settings/apply'
import { torSettingsStatus } from '../tor-settings/status'
import { defineCommand } from './command'

const usage = (message: string) => new CodedError('USAGE', message, { exitCode: 2 })

/** `status`, `enable`, `disable`, `bridges set FILE|-`, `bridges clear` as data; bridge text is read later. */
export function parseTorWords(
  action: string,
  verb: string | undefined,
  file: string | undefined,
): { kind: 'status' } | { kind: 'enable' | 'disable' | 'bridges-clear' } | { kind: 'bridges-set'; source: string } {
  if ((action === 'status' || action === 'enable' || action === 'disable') && verb === undefined)
    return { kind: action }
  if (action === 'bridges' && verb === 'clear' && file === undefined) return { kind: 'bridges-clear' }
  // yargs hands a lone "-" over as an empty string; no file has an empty name.
  if (action === 'bridges' && verb === 'set' && file !== undefined)
    return { kind: 'bridges-set', source: file === '' ? '-' : file }
  throw usage('usage: tor status | tor enable | tor disable | tor bridges set FILE|- | tor bridges clear')
}

async function bridgeText(source: string, maxBytes: number): Promise<string> {
  if (source === '-') return (await readAll(process.stdin, maxBytes)).toString('utf8')
  const text = await readFile(source)
  if (text.length > maxBytes)
    throw new CodedError('INPUT_TOO_LARGE', `${source} is longer than ${maxBytes} bytes`, { exitCode: 2 })
  return text.toString('utf8')
}

function report(io: Io, result: ApplyResult): void {
  const bridges =
    result.bridges.count === 0
      ? 'no bridges'
      : `${result.bridges.count} bridge(s) (${result.bridges.transports.join(', ')})`
  const state = `Tor network ${result.enabled ? 'enabled' : 'disabled'}, ${bridges}`
  io.out(
    result.changed
      ? `${state}; ${result.reloaded ? 'Tor reloaded' : (result.note ?? '')}`
      : `${state}; nothing to change`,
  )
}

export const torCommand = defineCommand({
  command: 'tor <action> [verb] [file]',
  describe:
    "On the Whonix-Gateway: Tor's network and bridges (status, enable, disable, bridges set FILE|-, bridges clear)",
  builder: (yargs) =>
    yargs
      .positional('action', { choices: ['status', 'enable', 'disable', 'bridges'] as const, demandOption: true })
      .positional('verb', { type: 'string' })
      .positional('file', { type: 'string' }),
  async run(args, io, features) {
    const parsed = parseTorWords(args.action, args.verb, args.file)
    const context = await contextFromArgs(args, features)
    if (parsed.kind === 'status') {
      printJson(io, await torSettingsStatus(context))
      return 0
    }
    const role = await currentRole(context)
    if (role.whonix !== 'gateway' || role.class === 'template')
      throw new CodedError('NOT_A_GATEWAY', "Tor's settings are changed on the Whonix-Gateway (sys-whonix), not here", {
        exitCode: 2,
      })
    const action: TorAction =
      parsed.kind === 'bridges-set'
        ? {
            kind: 'bridges-set',
            untrustedText: await bridgeText(
              parsed.source,
              context.manifest.torSettings.bridges.maxLines * context.manifest.torSettings.bridges.maxLineBytes,
            ),
          }
        : parsed
    const result = await applyTorAction(context, action)
    if (args.json) printJson(io, result)
    else report(io, result)
    return 0
  },
})
