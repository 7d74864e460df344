import { absolutePath, integer, object, oneOf, string, type Checked } from '../manifest/check'
import { serviceUnitName } from '../manifest/validators'

// The `gatewayInterface:` section of qubes.yaml (docs/gateway-interface.md).

export const gatewayInterfaceSection = object({
  /** A Linux interface name: at most 15 characters, no slash or space. */
  name: string({ pattern: /^[A-Za-z0-9_.-]{1,15}$/, maxLength: 15 }),
  kind: oneOf(['dummy', 'bridge'] as const),
  /** iproute2's `ip`, run as it is (a host program, not re-rooted). */
  ipProgram: absolutePath,
  timeoutMs: integer(100, 60_000),
  unit: serviceUnitName,
})

export type GatewayInterfaceManifest = Checked<typeof gatewayInterfaceSection>
