import { aptGateSection } from '../apt-gate/manifest'
import { stackedTorSection } from '../forwarders/manifest'
import { servicesSection } from './services'
import { gatewayInterfaceSection } from '../gateway-interface/manifest'
import { protectedFilesSection } from '../protected-files/manifest'
import { replaceIpsSection } from '../replace-ips/manifest'
import { systemdSection } from '../systemd/manifest'
import { packagingSection } from '../packaging/manifest'
import { absolutePath, fileName, integer, ipAddress, list, literal, object, string, type Checked } from './check'
import { controlAddress } from '../tor/address'
import { fileMode, httpUrl, tcpEndpoint, unitName, userName } from './validators'

// One checker per top-level section; each issue's feature adds its own section here.

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

const configLine = string({ pattern: /^#[^\n]*$/, maxLength: 200 })

export const updatesProxySection = object({
  markers: object({ secure: fileName, done: fileName }),
  check: object({
    url: httpUrl,
    proofLine: string({ pattern: /^[^\n]+$/, maxLength: 1024 }),
    user: userName,
    skipService: fileName,
    report: fileName,
    directoryMode: fileMode,
    markerMode: fileMode,
    timeoutSec: integer(1, 3600),
    stopMarginMs: integer(0, 60_000),
    responseTimeoutMs: integer(10, 600_000),
    bodyTimeoutMs: integer(10, 600_000),
    maxBodyBytes: integer(1024, 64 * 1024 * 1024),
    excerptBytes: integer(16, 4096),
    refusedPollMs: integer(1, 10_000),
    backoff: object({ initialMs: integer(1, 10_000), maxMs: integer(1, 60_000) }),
    unit: unitName,
    tmpfilesFile: absolutePath,
    after: list(unitName),
    before: list(unitName),
    diagnosisTarget: string({ pattern: /^@?[A-Za-z][A-Za-z0-9_.:-]{0,63}$/ }),
    diagnosisTimeoutMs: integer(10, 120_000),
  }),
  gateway: object({
    proxy: tcpEndpoint,
    torReadyTimeoutMs: integer(0, 3600_000),
    connectTimeoutMs: integer(10, 120_000),
    maxRequestLineBytes: integer(64, 65536),
    notReadyHeader: string({ pattern: /^X-[A-Za-z0-9-]+$/, maxLength: 64 }),
    upstream: string({ pattern: /^socks[45] [0-9.]+:[0-9]{1,5}$/ }),
    configBegin: configLine,
    configEnd: configLine,
    unit: unitName,
    dropIn: string({ pattern: /^[A-Za-z0-9_.-]+\.conf$/, maxLength: 255 }),
  }),
})

export const torSection = object({
  control: controlAddress,
  cookieFile: absolutePath,
  timeoutMs: integer(10, 60_000),
  maxReplyBytes: integer(1024, 16 * 1024 * 1024),
})

export const manifestSchema = object({
  schema: literal(1),
  paths: pathsSection,
  qubes: qubesSection,
  whonix: whonixSection,
  updatesProxy: updatesProxySection,
  tor: torSection,
  services: servicesSection,
  aptGate: aptGateSection,
  protectedFiles: protectedFilesSection,
  replaceIps: replaceIpsSection,
  gatewayInterface: gatewayInterfaceSection,
  systemd: systemdSection,
  stackedTor: stackedTorSection,
  packaging: packagingSection,
})

export type Manifest = Checked<typeof manifestSchema>
export type SystemPaths = Manifest['paths']
