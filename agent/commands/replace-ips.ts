import { contextFromArgs } from '../context'
import { printJson } from '../io'
import { replaceIps } from '../replace-ips/apply'
import { formatReplaceIps } from '../replace-ips/format'
import { currentRole } from '../role'
import { defineCommand } from './command'

export const replaceIpsCommand = defineCommand({
  command: 'replace-ips',
  describe:
    "Put the addresses Qubes assigned into Whonix's configuration files (gateway and workstation AppVMs, never templates)",
  builder: (yargs) =>
    yargs.option('dry-run', {
      type: 'boolean',
      default: false,
      describe: 'say what would change; write nothing, restart nothing',
    }),
  async run(args, io, features) {
    const context = await contextFromArgs(args, features)
    const report = await replaceIps(context, await currentRole(context), { dryRun: args['dry-run'] })
    if (args.json) printJson(io, report)
    else io.out(formatReplaceIps(report, args.verbose))
    return report.problems.length > 0 ? 1 : 0
  },
})
