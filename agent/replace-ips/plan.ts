import type { AgentContext } from '../context'
import type { WhonixFlavour } from '../role/detect'
import type { AddressEntry } from './manifest'
import { changesFor, type AddressChange } from './rule'
import { familyOf, readEarlierAddresses, readSavedAddress, type SavedAddress } from './saved'

/** For one address of the role: what Qubes assigned, and which old addresses it replaces. */
export interface AddressPlan {
  readonly qubesdb: string
  /** The Whonix default (whonix.addresses). */
  readonly default: string
  /** The cache file of the address used last (its name under replaceIps.cacheDirectory). */
  readonly savedFile: string
  readonly saved: SavedAddress
  /** Addresses written before the saved one, kept while a file may still hold them. */
  readonly earlier: readonly string[]
  readonly earlierProblem?: string
  /** `assigned`: qubesdb holds a valid address of the right family; otherwise nothing is replaced. */
  readonly state: 'assigned' | 'absent' | 'invalid'
  readonly current: string | null
  /** The old addresses: the saved one, the earlier ones, then the default. */
  readonly replaces: readonly string[]
  readonly detail?: string
}

async function planOne(context: AgentContext, entry: AddressEntry): Promise<AddressPlan> {
  const fallback = context.manifest.whonix.addresses[entry.default]
  const family = familyOf(fallback)
  const saved = await readSavedAddress(context, entry.saved, family)
  const earlier = await readEarlierAddresses(context, entry.saved, family)
  const olds = [...new Set([...(saved.state === 'present' ? [saved.address] : []), ...earlier.addresses, fallback])]
  const base = {
    qubesdb: entry.qubesdb,
    default: fallback,
    savedFile: entry.saved,
    saved,
    earlier: earlier.addresses,
    ...(earlier.problem ? { earlierProblem: earlier.problem } : {}),
  }
  const read = await context.qubesdb.read(entry.qubesdb)
  if (read.state === 'absent') return { ...base, state: 'absent', current: null, replaces: [] }
  if (read.state !== 'present') return { ...base, state: 'invalid', current: null, replaces: [], detail: read.reason }
  const untrustedValue = read.value
  if (familyOf(untrustedValue) !== family)
    return {
      ...base,
      state: 'invalid',
      current: null,
      replaces: [],
      detail: `${untrustedValue} is not an IPv${family} address`,
    }
  return { ...base, state: 'assigned', current: untrustedValue, replaces: olds }
}

/** The role's addresses, in manifest order (which decides who wins a shared /24 network). */
export async function planAddresses(context: AgentContext, flavour: WhonixFlavour): Promise<AddressPlan[]> {
  const plans: AddressPlan[] = []
  for (const entry of context.manifest.replaceIps[flavour].addresses) plans.push(await planOne(context, entry))
  return plans
}

export function changesOf(plans: readonly AddressPlan[]): AddressChange[] {
  return plans.flatMap((plan) =>
    plan.current === null ? [] : plan.replaces.flatMap((old) => changesFor(old, plan.current as string)),
  )
}
