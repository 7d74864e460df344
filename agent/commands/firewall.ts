import { contextFromArgs } from '../context'
import { applyFirewall } from '../firewall/apply'
import { checkFirewall } from '../firewall/check'
import { formatCheck, formatPlan } from '../firewall/format'
import { planFirewall } from '../firewall/plan'
import { writeTorListeners } from '../firewall/tor-config'
import { printJson } from '../io'
import { currentRole } from '../role'
import { defineCommand } from './command'

export const firewallCommand = defineCommand({
  command: 'firewall <action>',
  describe:
    'The Whonix firewall: show the ruleset for this qube, apply it (one nft transaction), check the loaded one; torrc: the gateway Tor listeners',
  builder: (yargs) =>
    yargs
      .positional('action', { choices: ['show', 'apply', 'check', 'torrc'] as const, demandOption: true })
      .option('mode', {
        choices: ['full', 'timesync-fail-closed'] as const,
        describe: 'override firewall_mode for this run',
      })
      .option('fail-closed', {
        type: 'boolean',
        default: false,
        describe: 'apply: on any failure load the fail-closed ruleset (the boot unit)',
      })
      .option('write', { type: 'boolean', default: false, describe: 'torrc: write the file (else print it)' }),
  async run(args, io, features) {
    const context = await contextFromArgs(args, features)
    const role = await currentRole(context)
    const options = args.mode === undefined ? {} : { mode: args.mode }
    if (args.action === 'torrc') {
      const torrc = await writeTorListeners(context, role, { write: args.write })
      if (args.json) printJson(io, torrc)
      else io.out(args.write ? `${torrc.path}: ${torrc.changed ? 'written' : 'unchanged'}` : torrc.content.trimEnd())
      return 0
    }
    if (args.action === 'show') {
      const plan = await planFirewall(context, role, options)
      if (args.json) printJson(io, plan)
      else io.out(formatPlan(plan, args.verbose))
      return 0
    }
    if (args.action === 'apply') {
      const report = await applyFirewall(context, role, { ...options, failClosed: args['fail-closed'] })
      if (args.json)
        printJson(io, { role: report.plan.role, mode: report.plan.mode, loaded: true, warnings: report.plan.warnings })
      else
        io.out(
          `firewall: ${report.plan.role} ruleset loaded (${report.plan.mode})${report.plan.warnings.map((warning) => `\nwarning: ${warning}`).join('')}`,
        )
      return 0
    }
    const report = await checkFirewall(context, role, options)
    if (args.json)
      printJson(io, {
        inSync: report.inSync,
        role: report.plan.role,
        mode: report.plan.mode,
        missing: report.missing,
        extra: report.extra,
      })
    else io.out(formatCheck(report))
    return report.inSync ? 0 : 1
  },
})
