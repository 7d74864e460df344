import { readFile } from 'node:fs/promises'
import { uptime } from 'node:os'
import { join } from 'node:path'
import type { AgentContext } from '../context'
import { sessionBusAddress } from '../notify/address'
import { sendNotification, type DesktopNotification } from '../notify/notify'
import { writeFileAtomic } from '../fs/atomic-write'
import { readBounded } from '../fs/read-bounded'
import { CodedError } from '../../rpc/errors'
import { gateScope } from './conditions'
import { gatherGateFacts, markerReader, type MarkerReading } from './facts'

export type AlertResult =
  { readonly sent: true; readonly id: number } | { readonly sent: false; readonly reason: string }

export interface AlertDependencies {
  readonly bootId: () => Promise<string>
  readonly uptimeMs: () => number
  readonly sleep: (ms: number) => Promise<void>
  readonly send: typeof sendNotification
}

const BOOT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

async function kernelBootId(): Promise<string> {
  const untrusted = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim()
  if (!BOOT_ID.test(untrusted)) throw new CodedError('BOOT_ID_INVALID', 'the kernel gave no valid boot id')
  return untrusted
}

export const systemAlertDependencies: AlertDependencies = {
  bootId: kernelBootId,
  uptimeMs: () => uptime() * 1000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  send: sendNotification,
}

const escapeMarkup = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** The notification for a template whose check has not passed (pure). */
export function alertNotification(context: AgentContext, reading: MarkerReading): DesktopNotification {
  const { alert, help } = context.manifest.aptGate
  const state = reading.verdict === 'failed' ? 'failed' : 'not passed'
  const body = [
    `The check that this template's updates go over Tor has ${state} ${Math.round(alert.delayMs / 1000)} s after boot,`,
    `so apt and the Qubes updater are refused here until they go through ${help.gatewayQube}.`,
    `In dom0, put this line first in ${help.policyFile}:`,
    help.policyLine,
    `Then, in this template: sudo systemctl restart ${context.manifest.updatesProxy.check.unit}`,
    'Details: qubes-whonix-agent status',
  ].join('\n')
  return {
    appName: alert.appName,
    summary: 'Whonix template: updates are blocked',
    body: escapeMarkup(body),
    urgency: 'critical',
    expireTimeoutMs: 0,
  }
}

function stateFile(env: NodeJS.ProcessEnv, unit: string): string {
  const base = env.XDG_STATE_HOME?.startsWith('/')
    ? env.XDG_STATE_HOME
    : env.HOME?.startsWith('/')
      ? join(env.HOME, '.local/state')
      : null
  if (base === null)
    throw new CodedError(
      'NO_STATE_DIRECTORY',
      'neither XDG_STATE_HOME nor HOME is set: cannot remember that the user was told',
    )
  return join(base, 'qubes-whonix-agent', unit)
}

async function readRemembered(file: string): Promise<string | null> {
  try {
    return (await readBounded(file, 64)).toString('utf8').trim()
  } catch {
    return null
  }
}

/**
 * The desktop alert: once per boot, in a Whonix template whose check has not passed by
 * `alert.delayMs` after boot, a critical notification on the user's session bus.
 */
export async function runAlert(
  context: AgentContext,
  dependencies: AlertDependencies = systemAlertDependencies,
): Promise<AlertResult> {
  const { alert } = context.manifest.aptGate
  const scope = gateScope({ kind: 'any' }, await gatherGateFacts(context), context.manifest.aptGate)
  if (!scope.gated) return { sent: false, reason: scope.reason }
  const file = stateFile(context.env, alert.unit)
  const bootId = await dependencies.bootId()
  if ((await readRemembered(file)) === bootId)
    return { sent: false, reason: 'the user was told already since this boot' }
  const early = alert.delayMs - dependencies.uptimeMs()
  if (early > 0) await dependencies.sleep(early)
  const reading = await markerReader(context)()
  if (reading.verdict === 'passed') return { sent: false, reason: 'the check has passed' }
  const address = sessionBusAddress(context.env)
  if (address === null)
    throw new CodedError(
      'NO_SESSION_BUS',
      'no session bus: neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is usable',
    )
  const id = await dependencies.send(address, alertNotification(context, reading), alert.timeoutMs)
  await writeFileAtomic(file, `${bootId}\n`, { mode: 0o600, directoryMode: 0o700 })
  return { sent: true, id }
}
