import { absolutePath, object, record, string } from '../manifest/check'

// The `packaging:` section of qubes.yaml: what only the Debian package knows (packages-meta/).

/** A Debian binary package name (Debian policy 5.6.1). */
const debianPackage = string({ pattern: /^[a-z0-9][a-z0-9+.-]+$/, maxLength: 128 })

export const packagingSection = object({
  /** The bundle as installed; paths.agentProgram is a relative link to it. */
  bundle: absolutePath,
  /** systemd-sysusers: the system users the package creates. */
  sysusersFile: absolutePath,
  /** Qubes bind-dirs: directories an AppVM keeps across reboots. */
  bindDirsFile: absolutePath,
  /** Files other packages ship that ours takes over (dpkg-divert): path, and the package that ships it. */
  diversions: record(debianPackage, absolutePath),
  /** Appended to a diverted path: our copy of it; with `-orig` after it, the other package's. */
  displaceSuffix: string({ pattern: /^\.[a-z0-9][a-z0-9.+-]*$/, maxLength: 64 }),
})
