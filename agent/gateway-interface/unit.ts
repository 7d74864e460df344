import { posix } from 'node:path'
import { textFile, type FileGenerator } from '../generated/file'
import { bootStepUnit } from '../systemd/unit-file'

/** Creates the gateway's internal interface at boot, before Tor binds its ports there. */
export const gatewayInterfaceUnit: FileGenerator = (manifest) => {
  const { systemd, gatewayInterface, paths, qubes } = manifest
  const content = bootStepUnit(systemd, {
    comment: `qubes-whonix-agent: the Whonix-Gateway's internal interface ${gatewayInterface.name}.`,
    description: `Whonix-Gateway internal interface ${gatewayInterface.name}`,
    conditions: [paths.gatewayMarker, `!${posix.join(paths.runQubes, qubes.typeMarkers.template)}`],
    command: `${paths.agentProgram} gateway-interface`,
  })
  return [
    textFile(
      posix.join(systemd.unitDirectory, gatewayInterface.unit),
      content,
      `systemd unit: the gateway's internal interface ${gatewayInterface.name} at boot`,
    ),
  ]
}
