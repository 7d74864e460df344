import { posix } from 'node:path'
import { symlink, textFile, type FileGenerator } from '../generated/file'

/**
 * Files of the installed system that exist because of packaging: the command on PATH, the
 * system user of the updates-proxy check, and the bind-dir that keeps replace-ips' last
 * addresses across reboots of an AppVM.
 */
export const packagingFiles: FileGenerator = (manifest) => {
  const { packaging, paths } = manifest
  const user = manifest.updatesProxy.check.user
  return [
    // A link, not a copy: node 18 treats the main file as an ES module only by its .mjs name.
    symlink(
      paths.agentProgram,
      posix.relative(posix.dirname(paths.agentProgram), packaging.bundle),
      'the agent command (a link to the bundled program)',
    ),
    textFile(
      packaging.sysusersFile,
      [
        '# qubes-whonix-agent: the user the torified updates-proxy check runs as (systemd-sysusers).',
        '# Type Name ID GECOS Home',
        `u ${user} - "Qubes-Whonix updates proxy check" -`,
        '',
      ].join('\n'),
      'system user of the updates-proxy check (created at install by systemd-sysusers)',
    ),
    textFile(
      packaging.bindDirsFile,
      [
        '# qubes-whonix-agent: kept across reboots of an AppVM (Qubes bind-dirs): the addresses',
        '# replace-ips used last, so the next boot knows what to replace.',
        `binds+=( '${manifest.replaceIps.cacheDirectory}' )`,
        '',
      ].join('\n'),
      'Qubes bind-dirs: keeps the replace-ips cache across AppVM reboots',
    ),
  ]
}
