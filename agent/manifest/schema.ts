import { absolutePath, fileName, integer, ipAddress, object, type Checked } from './check'
import type { manifestSchema } from '../manifest-schema'

// The sections every feature reads (paths, Qubes' facts, Whonix' addresses). The manifest as a
// whole is composed in agent/features.ts, with each feature's own section.

export const pathsSection = object({
  qubesdbRead: absolutePath,
  runQubes: absolutePath,
  runQubesService: absolutePath,
  gatewayMarker: absolutePath,
  workstationMarker: absolutePath,
  updatesProxyCheckDir: absolutePath,
  tinyproxyConfig: absolutePath,
  tinyproxyErrorPage: absolutePath,
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

export type Manifest = Checked<typeof manifestSchema>
export type SystemPaths = Checked<typeof pathsSection>
