import type { Stats } from 'node:fs'

/**
 * Who other than root could have put the link `entry` where it is: its owner, or the
 * owner of the directory holding it (who may replace any entry there). A directory that a
 * group other than root's or everyone may write to (without the sticky bit protecting
 * root's own link) lets anyone do it: 'anyone'. Null when only root could.
 */
export function linkSteerer(entry: Stats, directory: Stats): number | 'anyone' | null {
  const protectedBySticky = (directory.mode & 0o1000) !== 0 && entry.uid === 0
  if ((directory.mode & 0o002) !== 0 && !protectedBySticky) return 'anyone'
  if ((directory.mode & 0o020) !== 0 && directory.gid !== 0 && !protectedBySticky) return 'anyone'
  const users = new Set([entry.uid, directory.uid].filter((uid) => uid !== 0))
  if (users.size > 1) return 'anyone'
  return users.size === 1 ? [...users][0]! : null
}
