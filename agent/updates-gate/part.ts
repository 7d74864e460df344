import { QREXEC_CLIENT_VM } from '../../rpc/qrexec-client'
import { markerReader } from '../apt-gate/facts'
import type { DaemonPart } from '../daemon/parts'
import { reportPath } from '../updates-check/report'
import { UpdatesGate } from './gate'
import { GATE_SOCKET_NAME } from '../daemon/passed'
import { gateAddress, gateApplies } from './rule'

/** The daemon part: in a Whonix template, the updates gate listens where Qubes' forwarder did. */
export const updatesGatePart: DaemonPart = {
  name: 'updates-gate',
  appliesTo: gateApplies,
  sockets: [GATE_SOCKET_NAME],
  async start(context, role, log, passed) {
    const { target, service } = context.manifest.updatesProxy.gate
    const gate = new UpdatesGate({
      manifest: context.manifest,
      listen: gateAddress(context),
      call: { program: context.paths.under(QREXEC_CLIENT_VM), target, service },
      read: markerReader(context),
      reportFile: reportPath(context),
      templateName: role.name,
      log,
      passed,
    })
    await gate.start()
    return { stop: () => gate.stop(), status: () => gate.status() }
  },
}
