import { absolutePath, fileName, integer, list, object, string, type Checked } from '../manifest/check'
import { fileMode, httpUrl, tcpEndpoint, unitName, userName } from '../manifest/validators'

// The `updatesProxy:` section: the template's check (check) and the gateway's bridge (gateway).

const configLine = string({ pattern: /^#[^\n]*$/, maxLength: 200 })

// The `updatesProxy.gate:` part: a Whonix template's end of the updates proxy (agent/updates-gate/).
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
    requestHeadTimeoutMs: integer(10, 600_000),
    connectTimeoutMs: integer(10, 120_000),
    maxRequestLineBytes: integer(64, 65536),
    notReadyHeader: string({ pattern: /^X-[A-Za-z0-9-]+$/, maxLength: 64 }),
    upstream: string({ pattern: /^socks[45] [0-9.]+:[0-9]{1,5}$/ }),
    configBegin: configLine,
    configEnd: configLine,
    unit: unitName,
    dropIn: string({ pattern: /^[A-Za-z0-9_.-]+\.conf$/, maxLength: 255 }),
  }),
  gate: updatesGateSection,
})

export type UpdatesProxySection = Checked<typeof updatesProxySection>
