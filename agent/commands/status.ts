import { contextFromArgs } from '../context'
import { formatStatus } from '../format'
import { printJson } from '../io'
import { spawnCommandSync } from '../run-sync'
import { currentStatus } from '../status'
import { defineCommand } from './command'

export const statusCommand = defineCommand({
  command: 'status',
  describe: "Show the role and the state of each of the agent's parts",
  async run(args, io, features) {
    // Run once, nothing else on the event loop: qubesdb-read may block it (agent/run-sync.ts).
    const context = await contextFromArgs(args, features, spawnCommandSync)
    const status = await currentStatus(context)
    if (args.json) printJson(io, status)
    else io.out(formatStatus(status, args.verbose))
    return 0
  },
})
