import { posix } from 'node:path'
import { textFile, type FileGenerator } from '../generated/file'
import { bootStepUnit } from '../systemd/unit-file'

/**
 * Runs replace-ips at boot in Whonix AppVMs, once Qubes has configured the network
 * (qubesdb holds the addresses) and before Tor reads its configuration.
 */
export const replaceIpsUnit: FileGenerator = (manifest) => {
  const { systemd, replaceIps, paths, qubes } = manifest
  const content = bootStepUnit(systemd, {
    comment: 'qubes-whonix-agent: Whonix configuration files get the addresses Qubes assigned.',
    description: 'Replace Whonix internal addresses with those Qubes assigned',
    conditions: [`!${posix.join(paths.runQubes, qubes.typeMarkers.template)}`],
    command: `${paths.agentProgram} replace-ips`,
  })
  return [
    textFile(
      posix.join(systemd.unitDirectory, replaceIps.unit),
      content,
      'systemd unit: replace-ips at boot in Whonix AppVMs',
    ),
  ]
}
