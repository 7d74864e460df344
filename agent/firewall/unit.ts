import { posix } from 'node:path'
import { textFile, type FileGenerator } from '../generated/file'
import { renderUnit } from '../systemd/unit-file'

/**
 * Loads the firewall at boot, before any of the qube's network comes up: the network units,
 * the gateway's internal interface and Tor are ordered after it and require it, so when it
 * fails (and has loaded the fail-closed ruleset) they do not start at all.
 */
/**
 * udev starts the uplink instances (qubes-network-uplink@eth0.service) itself, and
 * RequiredBy= cannot name a template's instances: each instance gets the dependency here.
 */
export const uplinkDropIn = (unit: string): string =>
  renderUnit('qubes-whonix-agent: no uplink before the Whonix firewall is loaded.', {
    Unit: { Requires: unit, After: unit },
  })

export const firewallUnit: FileGenerator = (manifest) => {
  const { systemd, firewall, gatewayInterface, paths } = manifest
  const dependents = [
    ...firewall.networkUnits.filter((unit) => unit.endsWith('.service')),
    gatewayInterface.unit,
    systemd.torUnit,
  ]
  const content = renderUnit('qubes-whonix-agent: the Whonix firewall, loaded before the network (fail-closed).', {
    Unit: {
      Description: 'Whonix firewall',
      DefaultDependencies: 'no',
      ConditionPathExists: [`|${paths.gatewayMarker}`, `|${paths.workstationMarker}`],
      After: ['local-fs.target', ...systemd.bootAfter.filter((unit) => !firewall.networkUnits.includes(unit))].join(
        ' ',
      ),
      Before: [...firewall.networkUnits, gatewayInterface.unit, systemd.torUnit, 'shutdown.target'].join(' '),
      Wants: 'network-pre.target',
      Conflicts: 'shutdown.target',
    },
    Service: {
      Type: 'oneshot',
      RemainAfterExit: 'yes',
      ExecStart: `${paths.agentProgram} firewall apply --fail-closed`,
      TimeoutStartSec: String(systemd.oneshotTimeoutSec),
    },
    Install: { WantedBy: 'sysinit.target', RequiredBy: dependents.join(' ') },
  })
  return [
    textFile(
      posix.join(systemd.unitDirectory, firewall.unit),
      content,
      'systemd unit: the Whonix firewall at boot, before the network (fail-closed)',
    ),
    textFile(
      posix.join(systemd.unitDirectory, `${firewall.uplinkTemplate}.d`, firewall.uplinkDropIn),
      uplinkDropIn(firewall.unit),
      'systemd drop-in: every Qubes uplink instance (started by udev) requires the firewall and waits for it',
    ),
  ]
}
