import {
  absolutePath,
  fileName,
  integer,
  list,
  ManifestIssue,
  object,
  oneOf,
  string,
  type Checked,
  type Checker,
} from '../manifest/check'
import { serviceUnitName } from '../manifest/validators'

// The `replaceIps:` section of qubes.yaml (docs/replace-ips.md).

const addressEntry = object({
  /** The qubesdb key holding the address Qubes assigned. */
  qubesdb: string({ pattern: /^\/qubes-[a-z0-9-]+$/, maxLength: 64 }),
  /** The Whonix default it replaces: a key of whonix.addresses. */
  default: oneOf(['gateway', 'gateway6', 'workstation', 'workstation6'] as const),
  /** The file under cacheDirectory keeping the address used last. */
  saved: fileName,
})

const roleFiles = object({
  addresses: list(addressEntry, { min: 1 }),
  files: list(absolutePath, { unique: true }),
  torFiles: list(absolutePath, { unique: true }),
})

/** A role's lists, with every Tor file also among the files rewritten. */
const roleSection: Checker<Checked<typeof roleFiles>> = (untrusted, at) => {
  const section = roleFiles(untrusted, at)
  section.torFiles.forEach((file, index) => {
    if (!section.files.includes(file))
      throw new ManifestIssue([...at, 'torFiles', index], `${file} is not among the files`)
  })
  return section
}

export const replaceIpsSection = object({
  cacheDirectory: absolutePath,
  maxFileBytes: integer(1024, 64 * 1024 * 1024),
  unit: serviceUnitName,
  gateway: roleSection,
  workstation: roleSection,
})

export type ReplaceIpsManifest = Checked<typeof replaceIpsSection>
export type AddressEntry = Checked<typeof addressEntry>
