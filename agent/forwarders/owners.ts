import type { Command, Runner } from '../run'

/** Numeric ids of a user and a group, from the system's account database (NSS). */
export type Ownership = { readonly uid: number; readonly gid: number; readonly names: string } | { readonly error: string }

// Names are resolved by the system, never from files under --root: chown takes the kernel's ids.
export const getentCommand = (database: 'passwd' | 'group', name: string): Command => ({
  argv: ['getent', database, name],
  timeoutMs: 5000,
  maxOutputBytes: 64 * 1024,
})

/** The id in the third field of a getent line (`name:x:ID:...`) whose first field is `name`. */
export function idFromGetent(untrustedLine: string, name: string): number | null {
  const fields = untrustedLine.trim().split('\n')[0]?.split(':') ?? []
  if (fields[0] !== name || fields[2] === undefined || !/^[0-9]{1,10}$/.test(fields[2])) return null
  const id = Number(fields[2])
  return id < 2 ** 32 - 1 ? id : null
}

export async function resolveOwnership(run: Runner, user: string, group: string): Promise<Ownership> {
  const [passwd, groups] = await Promise.all([run(getentCommand('passwd', user)), run(getentCommand('group', group))])
  const uid = passwd.exitCode === 0 ? idFromGetent(passwd.stdout, user) : null
  const gid = groups.exitCode === 0 ? idFromGetent(groups.stdout, group) : null
  if (uid === null) return { error: `no user ${user} on this system` }
  if (gid === null) return { error: `no group ${group} on this system` }
  return { uid, gid, names: `${user}:${group}` }
}
