import { readFileThrough } from '../fs/resolve'

const MAX_PASSWD_BYTES = 4 * 1024 * 1024

/** Account name -> uid from a passwd file (the qube's, re-rooted); '' for a missing account. */
export async function readAccounts(path: string, root: string): Promise<(account: string) => string> {
  const file = await readFileThrough(path, { root, maxBytes: MAX_PASSWD_BYTES })
  const uids = new Map<string, string>()
  for (const line of (file?.content.toString('utf8') ?? '').split('\n')) {
    const [name = '', , uid = ''] = line.split(':')
    if (name !== '' && /^[0-9]{1,10}$/.test(uid) && !uids.has(name)) uids.set(name, uid)
  }
  return (account) => uids.get(account) ?? ''
}
