import { firewallRunner } from './runner'
import type { AgentContext } from '../context'
import type { Role } from '../role'
import { commandFailure } from './apply'
import { canonicalListing, checkText, listRuleset, tablesOf } from './nft'
import { planFirewall, type FirewallPlan } from './plan'

export interface CheckReport {
  readonly plan: FirewallPlan
  /** True when the loaded tables are exactly what the generated script gives. */
  readonly inSync: boolean
  /** Lines nft would list that are not loaded, and loaded lines it would not list. */
  readonly missing: readonly string[]
  readonly extra: readonly string[]
}

const lines = (text: string) =>
  text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)

/** `nft --check` on the generated script, then the loaded tables against nft's own listing of it. */
export async function checkFirewall(
  context: AgentContext,
  role: Role,
  options: { mode?: string } = {},
): Promise<CheckReport> {
  const { firewall } = context.manifest
  const plan = await planFirewall(context, role, options)
  const check = checkText(firewall, plan.script)
  const checked = await firewallRunner(context)(check)
  if (checked.exitCode !== 0) throw commandFailure('FIREWALL_INVALID', check, checked, 4)
  const expectedCommand = canonicalListing(firewall, plan.script)
  const [expected, actual] = await Promise.all([
    firewallRunner(context)(expectedCommand),
    firewallRunner(context)(listRuleset(firewall)),
  ])
  if (expected.exitCode !== 0) throw commandFailure('FIREWALL_INVALID', expectedCommand, expected, 4)
  if (actual.exitCode !== 0) throw commandFailure('FIREWALL_LIST', listRuleset(firewall), actual, 4)
  const want = tablesOf(expected.stdout, plan.tables)
  const have = tablesOf(actual.stdout, plan.tables)
  const haveLines = new Set(lines(have))
  const wantLines = new Set(lines(want))
  return {
    plan,
    inSync: want === have,
    missing: lines(want).filter((line) => !haveLines.has(line)),
    extra: lines(have).filter((line) => !wantLines.has(line)),
  }
}
