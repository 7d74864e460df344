import { join } from 'node:path'
import { generatedFiles } from '../../../agent/features'
import { writeGeneratedFiles } from '../../../agent/generated/write'
import { READY, startDaemon } from '../daemon/helper'
import { simulatedQube } from '../updates-proxy/helpers'

/**
 * sys-whonix, simulated with these manifest changes, its daemon running (the real bundle),
 * and the qrexec-agent stand-in's view of it (sockets, the rpc-config the package installs).
 */
export async function servingGateway(changes: Record<string, unknown>) {
  const qube = await simulatedQube('gateway', changes)
  // The services' qrexec options, as the package installs them (the stand-in reads them).
  await writeGeneratedFiles(
    qube.root,
    (await generatedFiles(qube.manifest)).filter((file) => file.path.startsWith('/etc/qubes/rpc-config/')),
  )
  const daemon = startDaemon(qube.root, ['--config', qube.config])
  await daemon.waitForLog(READY)
  const agent = {
    serviceDirs: [join(qube.root, 'run/qubes-rpc')],
    rpcConfigDirs: [join(qube.root, 'etc/qubes/rpc-config')],
  }
  return { ...qube, daemon, agent }
}
