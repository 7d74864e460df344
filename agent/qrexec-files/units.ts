import { posix } from 'node:path'
import type { Manifest } from '../manifest/schema'
import type { RoleSelector } from '../services/selectors'
import { CONTROL_SOCKET_NAMES } from '../daemon/query'
import { GATE_SOCKET_NAME } from '../daemon/passed'

type Section = Readonly<Record<string, string | readonly string[]>>

function renderUnit(comment: string, sections: Readonly<Record<string, Section>>): string {
  const blocks = Object.entries(sections).map(([name, keys]) => {
    const lines = Object.entries(keys).flatMap(([key, value]) =>
      (typeof value === 'string' ? [value] : value).map((one) => `${key}=${one}`),
    )
    return [`[${name}]`, ...lines].join('\n')
  })
  return `# ${comment}\n# Generated from the manifest (qubes-whonix-agent files show PATH).\n\n${blocks.join('\n\n')}\n`
}

/**
 * systemd conditions that keep a service's socket from existing on qubes whose role does
 * not serve it (it would shadow another package's service of that name). Only selectors
 * that marker files decide are expressed; for the others the socket exists and the daemon
 * answers SERVICE_NOT_SERVED. Each inner list is ANDed; the outer list is ORed.
 */
function markerConditions(manifest: Manifest, selector: RoleSelector): readonly string[] | null {
  const { paths, qubes } = manifest
  const template = posix.join(paths.runQubes, qubes.typeMarkers.template)
  switch (selector) {
    case 'gateway':
      return [paths.gatewayMarker, `!${template}`]
    case 'workstation':
      return [paths.workstationMarker, `!${template}`]
    case 'template-gateway':
      return [paths.gatewayMarker, template]
    case 'template-workstation':
      return [paths.workstationMarker, template]
    case 'template':
    case 'app':
    case 'proxy':
    case 'net':
      return [posix.join(paths.runQubes, qubes.typeMarkers[selector])]
    default:
      return null
  }
}

export function socketConditions(manifest: Manifest, servedBy: readonly RoleSelector[]): string[] {
  const expanded = servedBy.flatMap((selector) =>
    selector === 'whonix'
      ? (['gateway', 'workstation', 'template-gateway', 'template-workstation'] as const)
      : [selector],
  )
  const sets = expanded.map((selector) => markerConditions(manifest, selector))
  if (sets.some((set) => set === null)) return []
  const groups = sets as (readonly string[])[]
  if (groups.length === 1) return [...(groups[0] ?? [])]
  // systemd ORs only single conditions (the `|` prefix): a list of one-file selectors.
  if (groups.every((set) => set.length === 1)) return [...new Set(groups.map((set) => `|${set[0]}`))]
  // Several selectors of two files each: the union of their first files still excludes most.
  const firsts = [...new Set(groups.map((set) => set[0] ?? ''))]
  return firsts.length === 1 ? [firsts[0] ?? ''] : firsts.map((path) => `|${path}`)
}

export const socketUnitName = (manifest: Manifest, name: string): string =>
  `${manifest.services.units.socketPrefix}${name}.socket`

export function socketUnit(
  manifest: Manifest,
  name: string,
  path: string,
  mode: string,
  description: string,
  conditions: readonly string[],
): string {
  return renderUnit(`qubes-whonix-agent: ${description}`, {
    Unit: {
      Description: `qubes-whonix-agent socket: ${description}`,
      ...(conditions.length > 0 ? { ConditionPathExists: conditions } : {}),
    },
    Socket: {
      ListenStream: path,
      FileDescriptorName: name,
      SocketMode: mode,
      DirectoryMode: '0755',
      Service: manifest.services.units.service,
      RemoveOnStop: 'yes',
    },
    Install: { WantedBy: 'sockets.target' },
  })
}

export function serviceUnit(manifest: Manifest): string {
  const { units, drainTimeoutMs, table } = manifest.services
  const sockets = [...Object.keys(table), ...CONTROL_SOCKET_NAMES, GATE_SOCKET_NAME].map((name) =>
    socketUnitName(manifest, name),
  )
  return renderUnit('qubes-whonix-agent daemon: qrexec services and long-running parts', {
    Unit: {
      Description: 'qubes-whonix-agent daemon (qrexec services of Whonix qubes)',
      After: units.after.join(' '),
    },
    Service: {
      Type: 'exec',
      // The sockets are passed by name (FileDescriptorName=), one unit per service.
      Sockets: sockets.join(' '),
      ExecStart: `${manifest.paths.agentProgram} daemon`,
      ExecReload: '/bin/kill -HUP $MAINPID',
      // Open calls get drainTimeoutMs after SIGTERM; then the daemon cuts them itself.
      TimeoutStopSec: `${Math.ceil(drainTimeoutMs / 1000) + 5}s`,
      Restart: 'on-failure',
      RestartSec: '1s',
      NoNewPrivileges: 'yes',
      PrivateTmp: 'yes',
    },
    Install: { WantedBy: 'multi-user.target' },
  })
}
