import { join } from 'node:path'
import { descriptorFor } from '../../rpc/descriptor'
import { CodedError, errorMessage } from '../../rpc/errors'
import { callSocketService } from '../../rpc/socket-client'
import type { AgentContext } from '../context'
import type { DaemonStatus } from './status'

/** The daemon's control socket (not a qrexec service: only local processes reach it). */
export const CONTROL_SOCKET_NAME = 'control'
export const CONTROL_SERVICE = 'agent.DaemonStatus'
const QUERY_TIMEOUT_MS = 2000
const MAX_ANSWER_BYTES = 1024 * 1024

export const controlSocketPath = (context: AgentContext): string => join(context.paths.agentRunDir, CONTROL_SOCKET_NAME)

/** Asks a running daemon for its status; a daemon that is not there is an answer too. */
export async function queryDaemonStatus(context: AgentContext): Promise<DaemonStatus> {
  const path = controlSocketPath(context)
  try {
    const answer = await callSocketService(path, descriptorFor(CONTROL_SERVICE, 'dom0'), { timeoutMs: QUERY_TIMEOUT_MS, maxOutputBytes: MAX_ANSWER_BYTES })
    const parsed = JSON.parse(answer.toString('utf8')) as { ok: boolean; result?: DaemonStatus; error?: { message: string } }
    if (parsed.ok && parsed.result) return parsed.result
    return { running: false, reason: `the daemon answered an error: ${parsed.error?.message ?? 'unknown'}` }
  } catch (error) {
    if (error instanceof CodedError && error.code === 'RPC_SERVICE_UNAVAILABLE') return { running: false, reason: `no ${context.manifest.paths.agentRunDir}/${CONTROL_SOCKET_NAME}` }
    return { running: false, reason: `not reachable: ${errorMessage(error)}` }
  }
}
