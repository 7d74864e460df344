import { absolutePath, fileName, integer, list, object, record, string, type Checked } from '../manifest/check'

const transportName = string({ pattern: /^[a-z][a-z0-9_]{0,31}$/ })

/** The `torSettings:` section: the file we own, what tor@default reads, bounds and plugins. */
export const torSettingsSection = object({
  file: absolutePath,
  userFile: absolutePath,
  torProgram: absolutePath,
  defaultsTorrc: absolutePath,
  torrc: absolutePath,
  unshareProgram: absolutePath,
  mountProgram: absolutePath,
  shellProgram: absolutePath,
  verifyTimeoutMs: integer(100, 120_000),
  reloadTimeoutMs: integer(100, 120_000),
  lockFile: fileName,
  lockTimeoutMs: integer(100, 600_000),
  maxFileBytes: integer(1024, 1024 * 1024),
  maxStagedFiles: integer(1, 1024),
  bridges: object({ maxLines: integer(1, 256), maxLineBytes: integer(64, 8192) }),
  plugins: record(
    object({
      programs: list(absolutePath, { min: 1 }),
      package: string({ pattern: /^[a-z0-9][a-z0-9.+-]*$/, maxLength: 64 }),
    }),
    transportName,
  ),
})

export type TorSettingsSection = Checked<typeof torSettingsSection>
