import { absolutePath, integer, ipAddress, list, object, oneOf, record, string, type Checked } from '../manifest/check'

// The `protectedFiles:` section of qubes.yaml (docs/protected-files.md).

export const CONTENT_KINDS = ['hostname', 'hosts', 'localtime', 'timezone', 'resolver'] as const
export type ContentKind = (typeof CONTENT_KINDS)[number]

const hostName = string({ pattern: /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/, maxLength: 253 })
const ending = string({ pattern: /^[^/\0\n]+$/, maxLength: 32 })

export const protectedFilesSection = object({
  listDirectories: list(absolutePath, { min: 1, unique: true }),
  ignoredEndings: list(ending, { unique: true }),
  listFile: absolutePath,
  files: record(oneOf(CONTENT_KINDS), absolutePath),
  variantSuffixes: list(string({ pattern: /^\.[A-Za-z0-9_-]+$/, maxLength: 32 }), { unique: true }),
  expected: object({
    hostname: hostName,
    loopbackNames: list(hostName, { min: 1, unique: true }),
    timeZones: list(string({ pattern: /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/, maxLength: 64 }), {
      min: 1,
      unique: true,
    }),
    zoneinfoDirectory: absolutePath,
    gatewayNameservers: list(ipAddress(4), { min: 1, unique: true }),
  }),
  maxFileBytes: integer(64, 16 * 1024 * 1024),
  maxListFiles: integer(1, 100_000),
})

export type ProtectedFilesManifest = Checked<typeof protectedFilesSection>
