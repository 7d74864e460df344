import { absolutePath, integer, list, object, string, type Checked } from '../manifest/check'
import { unitName } from '../manifest/validators'

// The `systemd:` section of qubes.yaml: what the agent's units and its D-Bus client need.

export const systemdSection = object({
  /** Where the package installs its units. */
  unitDirectory: absolutePath,
  /** Qubes' units the agent's boot units run after: qubesdb, the mounted /rw (bind-dirs) and the network. */
  bootAfter: list(unitName, { min: 1, unique: true }),
  torUnit: unitName,
  /** TimeoutStartSec of the agent's oneshot units (a step that hangs is stopped, the boot goes on). */
  oneshotTimeoutSec: integer(1, 3600),
  /** The system bus when DBUS_SYSTEM_BUS_ADDRESS is not set. */
  systemBusAddress: string({ pattern: /^unix:[^\s]+$/, maxLength: 512 }),
  /** Bound on connecting to the bus and on each call. */
  busTimeoutMs: integer(100, 120_000),
})

export type SystemdManifest = Checked<typeof systemdSection>
