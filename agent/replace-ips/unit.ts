import { posix } from 'node:path'
import { textFile, type FileGenerator } from '../generated/file'
import { renderUnit } from '../systemd/unit-file'

/**
 * Runs replace-ips at boot in Whonix AppVMs, once Qubes has configured the network
 * (qubesdb holds the addresses) and before Tor reads its configuration.
 */
export const replaceIpsUnit: FileGenerator = (manifest) => {
  const { systemd, replaceIps, paths, qubes } = manifest
  const content = renderUnit('qubes-whonix-agent: Whonix configuration files get the addresses Qubes assigned.', {
    Unit: {
      Description: 'Replace Whonix internal addresses with those Qubes assigned',
      ConditionPathExists: [`!${posix.join(paths.runQubes, qubes.typeMarkers.template)}`],
      After: systemd.bootAfter.join(' '),
      Before: systemd.torUnit,
    },
    Service: {
      Type: 'oneshot',
      RemainAfterExit: 'yes',
      ExecStart: `${paths.agentProgram} replace-ips`,
    },
    Install: { WantedBy: 'multi-user.target' },
  })
  return [textFile(posix.join(systemd.unitDirectory, replaceIps.unit), content, 'systemd unit: replace-ips at boot in Whonix AppVMs')]
}
