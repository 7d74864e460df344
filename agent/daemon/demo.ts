import { join } from 'node:path'
import { descriptorFor } from '../../rpc/descriptor'
import { silentLog } from '../../rpc/call'
import { callSocketService } from '../../rpc/socket-client'
import type { AgentContext } from '../context'
import type { Io } from '../io'
import type { HandlerTable } from '../services/environment'
import { startDaemon } from './daemon'

const SHOWN = ['whonix.Role', 'whonix.Status'] as const
const MAX_SHOWN_CHARACTERS = 160

/**
 * The demo's qrexec part: the daemon serves the simulated qube (its sockets under the
 * sandbox root; no long-lived parts, which would listen on the host) and dom0's calls of
 * whonix.Role and whonix.Status go through the sockets with dom0's descriptor.
 */
export async function demoQrexecCalls(context: AgentContext, io: Io, handlers: HandlerTable): Promise<void> {
  const daemon = await startDaemon(context, { log: silentLog, env: {}, handlers, parts: [] })
  try {
    const name = daemon.role().name ?? 'QUBE'
    for (const service of SHOWN) {
      const socket = join(context.paths.qrexecSocketDir, service)
      const answer = (
        await callSocketService(socket, descriptorFor(service, 'dom0'), { timeoutMs: 10_000, maxOutputBytes: 1 << 20 })
      )
        .toString()
        .trimEnd()
      const shown =
        answer.length > MAX_SHOWN_CHARACTERS
          ? `${answer.slice(0, MAX_SHOWN_CHARACTERS)}... (${answer.length} bytes)`
          : answer
      io.out(
        `$ qrexec-client -d ${name} 'DEFAULT:QUBESRPC ${service} dom0'   # in dom0; answered on ${context.manifest.paths.qrexecSocketDir}/${service}\n${shown}`,
      )
    }
  } finally {
    await daemon.stop(0)
  }
}
