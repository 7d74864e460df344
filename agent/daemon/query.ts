import { join } from 'node:path'
import { descriptorFor } from '../../rpc/descriptor'
import { CodedError, errorMessage } from '../../rpc/errors'
import { callSocketService } from '../../rpc/socket-client'
import type { AgentContext } from '../context'
import type { DaemonStatus } from './status'

/**
 * The daemon's control sockets (not qrexec services: only local processes reach them).
 * Node cannot read a peer's credentials (SO_PEERCRED), so who may connect is the socket
 * file's mode: `control` (0666) is anyone's, with its own slots; `control-root` (0600) is
 * root's alone, so no user holding every slot of the other keeps root from an answer.
 */
export const CONTROL_SOCKET_NAME = 'control'
export const CONTROL_ROOT_SOCKET_NAME = 'control-root'
export const CONTROL_SOCKET_NAMES = [CONTROL_SOCKET_NAME, CONTROL_ROOT_SOCKET_NAME] as const
export const CONTROL_SERVICE = 'agent.DaemonStatus'
const QUERY_TIMEOUT_MS = 2000
const MAX_ANSWER_BYTES = 1024 * 1024

export const controlSocketPath = (context: AgentContext, name: string = CONTROL_SOCKET_NAME): string =>
  join(context.paths.agentRunDir, name)

/** Root asks on its own socket first; a daemon from before it had one answers on the shared one. */
const socketsToAsk = (uid: number | undefined): readonly string[] =>
  uid === 0 ? [CONTROL_ROOT_SOCKET_NAME, CONTROL_SOCKET_NAME] : [CONTROL_SOCKET_NAME]

/**
 * Asks a running daemon for its status; a daemon that is not there is an answer too. Only
 * a socket that nobody serves means "not running": a daemon that accepts but does not
 * answer in time, or refuses as busy, is there.
 */
export async function queryDaemonStatus(context: AgentContext, uid = process.getuid?.()): Promise<DaemonStatus> {
  let last: DaemonStatus = { running: false, reason: 'not asked' }
  for (const name of socketsToAsk(uid)) {
    last = await askSocket(context, name)
    if (last.running || last.reason !== absent(context, name)) return last
  }
  return last
}

const absent = (context: AgentContext, name: string) => `no ${context.manifest.paths.agentRunDir}/${name}`

async function askSocket(context: AgentContext, name: string): Promise<DaemonStatus> {
  let untrustedAnswer: Buffer
  try {
    untrustedAnswer = await callSocketService(
      controlSocketPath(context, name),
      descriptorFor(CONTROL_SERVICE, 'dom0'),
      { timeoutMs: QUERY_TIMEOUT_MS, maxOutputBytes: MAX_ANSWER_BYTES },
    )
  } catch (error) {
    if (error instanceof CodedError && error.code === 'RPC_SERVICE_UNAVAILABLE')
      return { running: false, reason: absent(context, name) }
    return {
      running: true,
      busy: true,
      reason: `the daemon accepts on ${context.manifest.paths.agentRunDir}/${name} but did not answer: ${errorMessage(error)}`,
    }
  }
  let parsed: { ok: boolean; result?: DaemonStatus; error?: { code?: string; message?: string } }
  try {
    parsed = JSON.parse(untrustedAnswer.toString('utf8')) as typeof parsed
  } catch {
    return {
      running: true,
      busy: true,
      reason: `the daemon's answer on ${context.manifest.paths.agentRunDir}/${name} was cut short (${untrustedAnswer.length} bytes)`,
    }
  }
  if (parsed.ok && parsed.result) return parsed.result
  const message = String(parsed.error?.message ?? 'unknown').slice(0, 300)
  if (parsed.error?.code === 'BUSY') return { running: true, busy: true, reason: message }
  return { running: false, reason: `the daemon answered an error: ${message}` }
}
