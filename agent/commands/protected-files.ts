import { contextFromArgs } from '../context'
import { printJson } from '../io'
import { formatProtectedFiles } from '../protected-files/format'
import { checkProtectedFiles } from '../protected-files/report'
import { currentRole } from '../role'
import { defineCommand, requireAction } from './command'

export const protectedFilesCommand = defineCommand({
  command: 'protected-files [action]',
  describe:
    "Check that Qubes leaves Whonix's files alone (its own protected-files rule) and that they hold what Whonix expects",
  builder: (yargs) => yargs.positional('action', { choices: ['check'] as const }),
  async run(args, io, features) {
    requireAction('protected-files', args.action, ['check'])
    const context = await contextFromArgs(args, features)
    const report = await checkProtectedFiles(context, await currentRole(context))
    if (args.json) printJson(io, report)
    else io.out(formatProtectedFiles(report, args.verbose))
    return report.verdict === 'problems' ? 1 : 0
  },
})
