import { absolutePath, integer, list, object, string, type Checked } from '../manifest/check'
import { unitName } from '../manifest/validators'

// The `firewall:` section of qubes.yaml (docs/firewall.md).

export const firewallSection = object({
  dropInDirs: list(absolutePath, { min: 1, unique: true }),
  maxDropInBytes: integer(1024, 16 * 1024 * 1024),
  script: absolutePath,
  passwd: absolutePath,
  sdwdateSuccess: list(absolutePath),
  status: object({
    firstRun: absolutePath,
    consecutiveRun: absolutePath,
    failed: list(absolutePath, { min: 1 }),
    record: absolutePath,
  }),
  bashProgram: absolutePath,
  nftProgram: absolutePath,
  unshareProgram: absolutePath,
  timeoutMs: integer(100, 600_000),
  unit: string({ pattern: /^[A-Za-z0-9:_.@-]+\.service$/, maxLength: 255 }),
  networkUnits: list(unitName),
  uplinkTemplate: string({ pattern: /^[A-Za-z0-9:_.\\-]+@\.service$/, maxLength: 255 }),
  uplinkDropIn: string({ pattern: /^[A-Za-z0-9_.-]+\.conf$/, maxLength: 255 }),
})

export type FirewallManifest = Checked<typeof firewallSection>
