import type { Command, Runner } from '../run'

/** Numeric ids of a user and a group, from the system's account database (NSS). */
export type Ownership =
  { readonly uid: number; readonly gid: number; readonly names: string } | { readonly error: string }

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

async function lookUp(run: Runner, database: 'passwd' | 'group', name: string): Promise<number | string> {
  const result = await run(getentCommand(database, name))
  if (result.exitCode === 2) return `no ${database === 'passwd' ? 'user' : 'group'} ${name} on this system`
  if (result.exitCode !== 0)
    return `getent ${database} ${name} failed (${result.spawnError ?? result.signal ?? `exit ${result.exitCode}`})`
  return idFromGetent(result.stdout, name) ?? `getent ${database} ${name} gave no usable id`
}

export async function resolveOwnership(run: Runner, user: string, group: string): Promise<Ownership> {
  const [uid, gid] = await Promise.all([lookUp(run, 'passwd', user), lookUp(run, 'group', group)])
  if (typeof uid === 'string') return { error: uid }
  if (typeof gid === 'string') return { error: gid }
  return { uid, gid, names: `${user}:${group}` }
}
