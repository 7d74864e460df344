import { aptGateSection } from '../apt-gate/manifest'
import { servicesSection } from './services'
import { absolutePath, fileName, integer, ipAddress, literal, object, type Checked } from './check'

// One checker per top-level section; each issue's feature adds its own section here.

export const pathsSection = object({
  qubesdbRead: absolutePath,
  runQubes: absolutePath,
  runQubesService: absolutePath,
  gatewayMarker: absolutePath,
  workstationMarker: absolutePath,
  updatesProxyCheckDir: absolutePath,
  simulatedQubesdb: absolutePath,
  qrexecSocketDir: absolutePath,
  qrexecServiceDir: absolutePath,
  qrexecConfigDir: absolutePath,
  qrexecPolicyDir: absolutePath,
  agentRunDir: absolutePath,
  setDateTimeRecord: absolutePath,
  agentProgram: absolutePath,
})

export const qubesSection = object({
  typeMarkers: object({ template: fileName, app: fileName, net: fileName, proxy: fileName }),
  persistenceMarkers: object({ full: fileName, 'rw-only': fileName, none: fileName }),
  qubesdb: object({
    timeoutMs: integer(50, 60_000),
    maxValueBytes: integer(16, 1024 * 1024),
  }),
})

export const whonixSection = object({
  addresses: object({
    gateway: ipAddress(4),
    gateway6: ipAddress(6),
    workstation: ipAddress(4),
    workstation6: ipAddress(6),
  }),
})

export const updatesProxySection = object({
  markers: object({ secure: fileName, done: fileName }),
})

export const manifestSchema = object({
  schema: literal(1),
  paths: pathsSection,
  qubes: qubesSection,
  whonix: whonixSection,
  updatesProxy: updatesProxySection,
  services: servicesSection,
  aptGate: aptGateSection,
})

export type Manifest = Checked<typeof manifestSchema>
export type SystemPaths = Manifest['paths']
