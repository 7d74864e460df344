import type { Manifest } from '../manifest/schema'

/**
 * When the gate applies (docs/qubes-facts.md, apt gate): upstream's conditions, with the command matched
 * by its exact name instead of "its path contains apt". Pure; facts.ts gathers the inputs.
 */
export type GateMode =
  /** The uwt drop-in and `--exec`: a program about to run, by the path it was started as. */
  | { readonly kind: 'command'; readonly program: string }
  /** The APT hook: an update of the package lists, by any front end (python-apt too). */
  | { readonly kind: 'hook' }
  /** `status`: would apt be gated here at all. */
  | { readonly kind: 'any' }

export interface GateFacts {
  /** The value of the skip variable (torified_check) in the environment, if set. */
  readonly skipValue: string | undefined
  readonly qubesdbRead: boolean
  readonly templateMarker: boolean
  readonly whonixMarker: boolean
}

export type GateScope = { readonly gated: true } | { readonly gated: false; readonly reason: string }

type Settings = Pick<Manifest['aptGate'], 'commands' | 'wrapperSuffix' | 'skip'>

/** The program's file name without uwt's displaced-wrapper suffix (apt-get.anondist is apt-get). */
export function commandName(program: string, wrapperSuffix: string): string {
  const base = program.slice(program.lastIndexOf('/') + 1)
  return base.endsWith(wrapperSuffix) && base.length > wrapperSuffix.length
    ? base.slice(0, -wrapperSuffix.length)
    : base
}

export function gateScope(mode: GateMode, facts: GateFacts, settings: Settings): GateScope {
  if (facts.skipValue === settings.skip.value)
    return { gated: false, reason: `${settings.skip.variable}=${settings.skip.value} is set` }
  if (mode.kind === 'command') {
    const name = commandName(mode.program, settings.wrapperSuffix)
    if (!settings.commands.includes(name))
      return {
        gated: false,
        reason: `${JSON.stringify(name)} is not one of the gated commands (${settings.commands.join(', ')})`,
      }
  }
  if (!facts.qubesdbRead) return { gated: false, reason: 'not a Qubes qube (no qubesdb-read)' }
  if (!facts.templateMarker) return { gated: false, reason: 'not a template' }
  // Upstream needed no such test (its drop-in only exists in Whonix); the hook and --exec do.
  if (!facts.whonixMarker) return { gated: false, reason: 'not a Whonix template' }
  return { gated: true }
}
