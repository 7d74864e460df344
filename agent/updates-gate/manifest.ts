import { absolutePath, integer, object, string } from '../manifest/check'
import { unitName } from '../updates-proxy/settings'

// The `updatesProxy.gate:` section of qubes.yaml: a Whonix template's end of the updates proxy.

const serviceName = string({ pattern: /^[A-Za-z0-9_.-]{1,64}$/ })

export const updatesGateSection = object({
  target: string({ pattern: /^@default$|^[A-Za-z][A-Za-z0-9_.-]{0,30}$/ }),
  service: string({ pattern: /^[A-Za-z0-9._-]{1,255}$/ }),
  qubesServices: object({ required: serviceName, excluded: serviceName }),
  maxConnections: integer(1, 65_536),
  maxHeadBytes: integer(256, 65_536),
  headTimeoutMs: integer(10, 600_000),
  retryMs: integer(10, 600_000),
  qubesSocket: unitName,
  dropIn: string({ pattern: /^[A-Za-z0-9_.-]+\.conf$/, maxLength: 255 }),
  unit: unitName,
  flag: absolutePath,
  after: unitName,
})
