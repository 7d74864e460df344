import { setTimeout as sleep } from 'node:timers/promises'
import { performance } from 'node:perf_hooks'
import { CodedError, errorMessage } from '../../rpc/errors'
import { openTorControl, type TorControl, type TorControlSettings } from '../tor/client'
import type { ControlReply } from '../tor/connection'

/** What Tor runs with, as GETCONF tells. */
export interface TorView {
  readonly disableNetwork: boolean
  readonly bridges: readonly string[]
}

export type ReloadOutcome =
  | { readonly reloaded: true; readonly view: TorView }
  | { readonly reloaded: false; readonly reachable: false; readonly reason: string }
  | { readonly reloaded: false; readonly reachable: true; readonly reason: string; readonly view: TorView | null }

// Tor usually shows it on the first GETCONF after the reload: ask again soon, then less often.
const FIRST_POLL_MS = 1
const MAX_POLL_MS = 20
const MAX_WARNING = 300

/** Parses a GETCONF reply: `KEY=VALUE` lines, `KEY` alone for an unset option. */
export function getconfValues(reply: ControlReply, key: string): string[] {
  const lower = key.toLowerCase()
  const values: string[] = []
  for (const line of reply.lines) {
    const equals = line.indexOf('=')
    const name = (equals === -1 ? line : line.slice(0, equals)).toLowerCase()
    if (name === lower && equals !== -1) values.push(line.slice(equals + 1))
  }
  return values
}

export async function readTorView(control: TorControl): Promise<TorView> {
  const reply = await control.connection.command('GETCONF DisableNetwork Bridge')
  const disableNetwork = getconfValues(reply, 'DisableNetwork')[0]
  if (disableNetwork !== '0' && disableNetwork !== '1')
    throw new CodedError('TOR_CONTROL_PROTOCOL', 'Tor sent no DisableNetwork value in its GETCONF reply')
  return { disableNetwork: disableNetwork === '1', bridges: getconfValues(reply, 'Bridge') }
}

const matches = (view: TorView, wanted: TorWanted) =>
  view.disableNetwork === !wanted.enabled && wanted.bridges.every((line) => view.bridges.includes(line))

export interface TorWanted {
  readonly enabled: boolean
  readonly bridges: readonly string[]
}

/** The connection opened ahead (while the change was checked), or a new one when that one failed or has closed since. */
async function connect(settings: TorControlSettings, ahead: Promise<TorControl> | undefined): Promise<TorControl> {
  const opened = await ahead?.catch(() => null)
  if (opened && !opened.connection.closed) return opened
  return openTorControl(settings)
}

/**
 * Has Tor read its files again (SIGNAL RELOAD over the control connection, the same as
 * SIGHUP) and waits until GETCONF shows what we wrote. Tor's warnings meanwhile are kept:
 * the last one says why it did not take it.
 */
export async function reloadTor(
  settings: TorControlSettings,
  wanted: TorWanted,
  timeoutMs: number,
  ahead?: Promise<TorControl>,
): Promise<ReloadOutcome> {
  let control: TorControl
  try {
    control = await connect(settings, ahead)
  } catch (error) {
    return { reloaded: false, reachable: false, reason: errorMessage(error) }
  }
  let lastWarning: string | null = null
  let view: TorView | null = null
  try {
    control.connection.onEvent((reply) => {
      const text = reply.lines[0] ?? ''
      if (text.startsWith('WARN ')) lastWarning = text.slice('WARN '.length, 'WARN '.length + MAX_WARNING)
    })
    await control.connection.command('SETEVENTS WARN')
    await control.connection.command('SIGNAL RELOAD')
    const deadline = performance.now() + timeoutMs
    for (let pause = FIRST_POLL_MS; ; pause = Math.min(pause * 2, MAX_POLL_MS)) {
      view = await readTorView(control)
      if (matches(view, wanted)) return { reloaded: true, view }
      if (performance.now() >= deadline) break
      await sleep(pause)
    }
    const saw = `Tor reports DisableNetwork ${view.disableNetwork ? 1 : 0}${wanted.bridges.length > 0 ? ` and ${view.bridges.length} bridge(s)` : ''}`
    return {
      reloaded: false,
      reachable: true,
      view,
      reason: `${saw} after reloading${lastWarning ? `; Tor warns: ${lastWarning as string}` : ' (another file may set it, such as 50_user.conf)'}`,
    }
  } catch (error) {
    return {
      reloaded: false,
      reachable: true,
      view,
      reason: `${errorMessage(error)}${lastWarning ? `; Tor warns: ${lastWarning as string}` : ''}`,
    }
  } finally {
    control.connection.close()
  }
}
