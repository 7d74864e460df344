import { errorMessage } from '../../rpc/errors'
import type { AgentContext } from '../context'
import { writeFileAtomic } from '../fs/atomic-write'
import { removeEntry } from '../fs/entries'
import type { AddressPlan } from './plan'
import { earlierFileName, MAX_EARLIER, savedAddressPath } from './saved'

export interface SavedOutcome {
  readonly file: string
  readonly address: string
  readonly result: 'written' | 'would-write' | 'unchanged' | 'failed'
  readonly detail?: string
  /** Addresses kept beside it because a file that could not be rewritten may still hold them. */
  readonly earlier?: readonly string[]
}

/**
 * The old addresses a file that failed may still hold, for the next run: the saved and
 * earlier ones (the default is always replaced anyway). None once every file was rewritten.
 */
function earlierToKeep(plan: AddressPlan, aFileFailed: boolean): string[] {
  if (!aFileFailed) return []
  return plan.replaces.filter((address) => address !== plan.current && address !== plan.default).slice(0, MAX_EARLIER)
}

const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((address, index) => address === b[index])

async function writeEarlier(context: AgentContext, plan: AddressPlan, keep: readonly string[]): Promise<void> {
  const path = savedAddressPath(context, earlierFileName(plan.savedFile))
  if (keep.length > 0)
    await writeFileAtomic(path, `${keep.join('\n')}\n`, { root: context.paths.root, mode: 0o644, directoryMode: 0o755 })
  else await removeEntry(path, { root: context.paths.root })
}

async function saveOne(
  context: AgentContext,
  plan: AddressPlan & { current: string },
  keep: readonly string[],
): Promise<SavedOutcome['result']> {
  // Upstream's format (the bare address), so a downgrade still reads it.
  const written = await writeFileAtomic(savedAddressPath(context, plan.savedFile), plan.current, {
    root: context.paths.root,
    mode: 0o644,
    directoryMode: 0o755,
  })
  const earlierChanged = !sameList(keep, plan.earlier)
  if (earlierChanged) await writeEarlier(context, plan, keep)
  return written.changed || earlierChanged ? 'written' : 'unchanged'
}

/**
 * Saves the addresses used, also when a file could not be rewritten: the files written hold
 * them now. The old ones such a file may still hold are kept beside them for later runs.
 */
export async function saveAddresses(
  context: AgentContext,
  plans: readonly AddressPlan[],
  aFileFailed: boolean,
  dryRun: boolean,
): Promise<SavedOutcome[]> {
  const outcomes: SavedOutcome[] = []
  for (const plan of plans) {
    if (plan.current === null || outcomes.some((outcome) => outcome.file === plan.savedFile)) continue
    const keep = earlierToKeep(plan, aFileFailed)
    const base = { file: plan.savedFile, address: plan.current, ...(keep.length > 0 ? { earlier: keep } : {}) }
    const unchanged =
      plan.saved.state === 'present' && plan.saved.address === plan.current && sameList(keep, plan.earlier)
    if (unchanged) outcomes.push({ ...base, result: 'unchanged' })
    else if (dryRun) outcomes.push({ ...base, result: 'would-write' })
    else {
      try {
        outcomes.push({ ...base, result: await saveOne(context, { ...plan, current: plan.current }, keep) })
      } catch (error) {
        outcomes.push({ ...base, result: 'failed', detail: errorMessage(error) })
      }
    }
  }
  return outcomes
}
