import { access } from 'node:fs/promises'
import type { AgentContext } from '../context'
import { writeFileAtomic } from '../fs/atomic-write'
import { readFileThrough } from '../fs/resolve'
import type { FirewallMode } from './plan'
import type { FirewallRole } from './variables'

/** What `apply` left behind for `status`: root's record in the agent's run directory. */
export interface FirewallRecord {
  readonly schema: 1
  readonly role: FirewallRole | null
  readonly mode: FirewallMode | null
  /** `ruleset`: the generated one is loaded; `lockdown`: the fail-closed one; `none`: neither loaded. */
  readonly loaded: 'ruleset' | 'lockdown' | 'none'
  readonly error: string | null
  /** SHA-256 of nft's listing of the firewall's tables right after loading (drift check). */
  readonly listing: string | null
  readonly tables: readonly string[]
}

const MAX_RECORD_BYTES = 64 * 1024
const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  )

export async function writeRecord(context: AgentContext, record: FirewallRecord): Promise<void> {
  await writeFileAtomic(context.paths.under(context.manifest.firewall.status.record), `${JSON.stringify(record)}\n`, {
    mode: 0o644,
    directoryMode: 0o755,
    root: context.paths.root,
  })
}

export async function readRecord(context: AgentContext): Promise<FirewallRecord | null> {
  const file = await readFileThrough(context.paths.under(context.manifest.firewall.status.record), {
    root: context.paths.root,
    maxBytes: MAX_RECORD_BYTES,
  }).catch(() => null)
  if (file === null) return null
  try {
    const untrusted = JSON.parse(file.content.toString('utf8')) as Partial<FirewallRecord>
    return untrusted.schema === 1 && typeof untrusted.loaded === 'string' && Array.isArray(untrusted.tables)
      ? (untrusted as FirewallRecord)
      : null
  } catch {
    return null
  }
}

/** Upstream's status files: the first and later successful loads this boot. */
export async function markLoaded(context: AgentContext): Promise<void> {
  const { firstRun, consecutiveRun } = context.manifest.firewall.status
  const first = context.paths.under(firstRun)
  const path = (await exists(first)) ? context.paths.under(consecutiveRun) : first
  await writeFileAtomic(path, '', { mode: 0o644, directoryMode: 0o755, root: context.paths.root })
}

/** Upstream's failure status files; like upstream, never removed until reboot. */
export async function markFailed(context: AgentContext): Promise<void> {
  for (const path of context.manifest.firewall.status.failed)
    await writeFileAtomic(context.paths.under(path), '', {
      mode: 0o644,
      directoryMode: 0o755,
      root: context.paths.root,
    })
}

export async function failedMarked(context: AgentContext): Promise<boolean> {
  const found = await Promise.all(
    context.manifest.firewall.status.failed.map((path) => exists(context.paths.under(path))),
  )
  return found.includes(true)
}
