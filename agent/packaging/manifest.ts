import { absolutePath, list, object, string } from '../manifest/check'

// The `packaging:` section of qubes.yaml: what only the Debian package knows (packages-meta/).

export const packagingSection = object({
  /** The bundle as installed; paths.agentProgram is a relative link to it. */
  bundle: absolutePath,
  /** systemd-sysusers: the system users the package creates. */
  sysusersFile: absolutePath,
  /** Qubes bind-dirs: directories an AppVM keeps across reboots. */
  bindDirsFile: absolutePath,
  /** Files other packages ship that ours replaces or disables (dpkg-divert). */
  diversions: list(absolutePath, { unique: true }),
  /** Appended to a diverted path: our copy of it; with `-orig` after it, the other package's. */
  displaceSuffix: string({ pattern: /^\.[a-z0-9][a-z0-9.+-]*$/, maxLength: 64 }),
})
