import { posix } from 'node:path'
import { textFile, type FileGenerator } from '../generated/file'
import { renderUnit } from '../systemd/unit-file'

/** Creates the gateway's internal interface at boot, before Tor binds its ports there. */
export const gatewayInterfaceUnit: FileGenerator = (manifest) => {
  const { systemd, gatewayInterface, paths, qubes } = manifest
  const content = renderUnit(`qubes-whonix-agent: the Whonix-Gateway's internal interface ${gatewayInterface.name}.`, {
    Unit: {
      Description: `Whonix-Gateway internal interface ${gatewayInterface.name}`,
      ConditionPathExists: [paths.gatewayMarker, `!${posix.join(paths.runQubes, qubes.typeMarkers.template)}`],
      After: systemd.bootAfter.join(' '),
      Before: systemd.torUnit,
    },
    Service: {
      Type: 'oneshot',
      RemainAfterExit: 'yes',
      ExecStart: `${paths.agentProgram} gateway-interface`,
    },
    Install: { WantedBy: 'multi-user.target' },
  })
  return [textFile(posix.join(systemd.unitDirectory, gatewayInterface.unit), content, `systemd unit: the gateway's internal interface ${gatewayInterface.name} at boot`)]
}
