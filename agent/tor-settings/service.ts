import { CodedError } from '../../rpc/errors'
import { readAll } from '../../rpc/input'
import { jsonHandler } from '../../rpc/json'
import { quoteUntrusted } from '../../rpc/descriptor'
import type { HandlerFactory } from '../services/environment'
import { applyTorAction, type TorAction } from './apply'
import { torSettingsStatus } from './status'

/** The service's arguments (`whonix.Tor+ARGUMENT`); bridges-set reads the lines from the caller's input. */
export const TOR_ARGUMENTS = ['status', 'enable', 'disable', 'bridges-set', 'bridges-clear'] as const

/** whonix.Tor: `tor status|enable|disable|bridges set|bridges clear` for dom0, answered as JSON. */
export const torService: HandlerFactory = (context) =>
  jsonHandler(async (call) => {
    const argument = call.argument ?? ''
    if (argument === 'status') return torSettingsStatus(context)
    if (argument === 'bridges-set') {
      const untrustedText = (await readAll(call.input, call.limits.maxInputBytes)).toString('utf8')
      return applyTorAction(context, { kind: 'bridges-set', untrustedText })
    }
    if (argument === 'enable' || argument === 'disable' || argument === 'bridges-clear')
      return applyTorAction(context, { kind: argument } satisfies TorAction)
    throw new CodedError(
      'TOR_ACTION_UNKNOWN',
      `unknown action ${quoteUntrusted(argument)}: call whonix.Tor+ACTION with one of ${TOR_ARGUMENTS.join(', ')}`,
    )
  })
