import { posix } from 'node:path'
import { renderRpcConfig } from '../../rpc/rpc-config'
import { CONTROL_ROOT_SOCKET_NAME, CONTROL_SOCKET_NAME } from '../daemon/query'
import { symlink, textFile, type FileGenerator, type GeneratedFile } from '../generated/file'
import { policyFile } from './policy'
import { serviceUnit, socketConditions, socketUnit, socketUnitName } from './units'

/**
 * What makes qrexec find the daemon's services: a link per service in /etc/qubes-rpc/ to
 * its socket under /run/qubes-rpc/ (R4.3 looks there first; R4.2 only through the link),
 * rpc-config entries, the dom0 policy file, and the systemd units of the daemon.
 */
export const qrexecFiles: FileGenerator = (manifest) => {
  const { paths, services } = manifest
  const unitDir = manifest.systemd.unitDirectory
  const files: GeneratedFile[] = []
  for (const [name, entry] of Object.entries(services.table)) {
    const socket = posix.join(paths.qrexecSocketDir, name)
    files.push(
      symlink(
        posix.join(paths.qrexecServiceDir, name),
        socket,
        `qrexec finds ${name} (a socket service of the daemon)`,
      ),
    )
    const config = renderRpcConfig(entry.rpcConfig ?? {})
    if (config !== '')
      files.push(
        textFile(
          posix.join(paths.qrexecConfigDir, name),
          `# qubes-whonix-agent: qrexec options of ${name}\n${config}`,
          `qrexec options of ${name}`,
        ),
      )
    files.push(
      textFile(
        posix.join(unitDir, socketUnitName(manifest, name)),
        socketUnit(
          manifest,
          name,
          socket,
          '0660',
          `qrexec service ${name}`,
          socketConditions(manifest, entry.servedBy),
        ),
        `socket of ${name}, before the daemon runs`,
      ),
    )
  }
  const control = posix.join(paths.agentRunDir, CONTROL_SOCKET_NAME)
  files.push(
    textFile(
      posix.join(unitDir, socketUnitName(manifest, CONTROL_SOCKET_NAME)),
      socketUnit(manifest, CONTROL_SOCKET_NAME, control, '0666', 'the daemon status socket', []),
      'socket of the daemon status (status command)',
    ),
  )
  const rootControl = posix.join(paths.agentRunDir, CONTROL_ROOT_SOCKET_NAME)
  files.push(
    textFile(
      posix.join(unitDir, socketUnitName(manifest, CONTROL_ROOT_SOCKET_NAME)),
      socketUnit(manifest, CONTROL_ROOT_SOCKET_NAME, rootControl, '0600', "root's daemon status socket", []),
      "root's socket of the daemon status",
    ),
  )
  files.push(textFile(posix.join(unitDir, services.units.service), serviceUnit(manifest), 'the agent daemon'))
  const policy = policyFile(manifest)
  files.push(
    textFile(policy.path, policy.content, 'dom0 qrexec policy for the Whonix services (installed in dom0 by Salt)'),
  )
  return files
}
