import { firewallRunner } from './runner'
import { CodedError, errorMessage } from '../../rpc/errors'
import type { ErrorCode } from '../../rpc/error-codes'
import type { AgentContext } from '../context'
import { writeFileAtomic } from '../fs/atomic-write'
import type { Role } from '../role'
import type { Command, CommandResult } from '../run'
import { bootBudget, startDeadline, timeoutError } from './deadline'
import { lockdownScript } from './lockdown'
import { digest, listRuleset, loadFile, loadText, tablesOf } from './nft'
import { readAccounts } from './passwd'
import { firewallRole, planFirewall, type FirewallPlan } from './plan'
import { markFailed, markLoaded, writeRecord } from './record'

export interface ApplyReport {
  readonly plan: FirewallPlan
  readonly script: string
}

export function commandFailure(code: ErrorCode, command: Command, result: CommandResult, exitCode: number): CodedError {
  const why =
    result.spawnError ??
    (result.timedOut ? 'timed out' : result.stderr.trim().split('\n')[0] || `exit ${result.exitCode ?? result.signal}`)
  return new CodedError(code, `${command.argv[0]}: ${why}`, { command: command.argv, exitCode })
}

async function run(context: AgentContext, command: Command, code: ErrorCode, exitCode: number): Promise<CommandResult> {
  const result = await firewallRunner(context)(command)
  if (result.exitCode !== 0) throw commandFailure(code, command, result, exitCode)
  return result
}

async function listingDigest(
  context: AgentContext,
  tables: readonly string[],
  timeoutMs = context.manifest.firewall.timeoutMs,
): Promise<string | null> {
  const result = await firewallRunner(context)({ ...listRuleset(context.manifest.firewall), timeoutMs })
  return result.exitCode === 0 ? digest(tablesOf(result.stdout, tables)) : null
}

async function loadPlan(context: AgentContext, plan: FirewallPlan): Promise<void> {
  const { firewall } = context.manifest
  const script = context.paths.under(firewall.script)
  await writeFileAtomic(script, plan.script, { mode: 0o644, directoryMode: 0o755, root: context.paths.root })
  // One `nft --file`: nft validates the whole script and commits all of it or nothing.
  await run(context, loadFile(firewall, script), 'FIREWALL_LOAD', 4)
}

async function recordLoaded(context: AgentContext, plan: FirewallPlan): Promise<void> {
  await markLoaded(context)
  await writeRecord(context, {
    schema: 1,
    role: plan.role,
    mode: plan.mode,
    loaded: 'ruleset',
    error: null,
    listing: await listingDigest(context, plan.tables),
    tables: plan.tables,
  })
}

/** Loads the fail-closed ruleset and writes the failure status; the original error is rethrown. */
async function lockDown(context: AgentContext, role: Role, error: unknown, timeoutMs: number): Promise<never> {
  const { firewall } = context.manifest
  const which = firewallRole(role)
  const uid = await readAccounts(context.paths.under(firewall.passwd), context.paths.root).catch(() => () => '')
  const torUid = which.role === 'gateway' ? uid('debian-tor') || null : null
  await markFailed(context)
  const lockdown = await firewallRunner(context)({
    ...loadText(firewall, `${lockdownScript(torUid).join('\n')}\n`),
    timeoutMs,
  })
  const loaded = lockdown.exitCode === 0
  await writeRecord(context, {
    schema: 1,
    role: which.role,
    mode: null,
    loaded: loaded ? 'lockdown' : 'none',
    error: errorMessage(error),
    listing: loaded ? await listingDigest(context, ['inet filter'], timeoutMs) : null,
    tables: ['inet filter'],
  })
  if (error instanceof CodedError) throw error
  throw new CodedError('FIREWALL_LOAD', errorMessage(error), { exitCode: 4, cause: error })
}

/**
 * Generates this qube's ruleset and loads it atomically, within its share of the boot unit's
 * time (deadline.ts). With failClosed (the boot unit), any failure to build or load it, or
 * running out of that time, loads the fail-closed ruleset instead and says so; the run
 * fails either way, so the units requiring the firewall do not start.
 */
export async function applyFirewall(
  context: AgentContext,
  role: Role,
  options: { mode?: string; failClosed?: boolean } = {},
): Promise<ApplyReport> {
  // Not a Whonix qube: nothing to do and nothing to lock down.
  firewallRole(role)
  const budget = bootBudget(context.manifest)
  const deadline = startDeadline(firewallRunner(context), budget.applyMs)
  const bounded: AgentContext = { ...context, run: deadline.run }
  try {
    const plan = await deadline.race(planFirewall(bounded, role, options))
    await deadline.race(loadPlan(bounded, plan))
    deadline.end()
    await recordLoaded(context, plan)
    return { plan, script: plan.script }
  } catch (caught) {
    deadline.end()
    const error = deadline.passed() ? timeoutError(budget.applyMs) : caught
    if (!options.failClosed) throw error
    // What was started before the deadline ends first (it was killed then): the lockdown loads last.
    await deadline.quiet()
    return lockDown(context, role, error, budget.lockdownCommandMs)
  }
}
