import { contextFromArgs } from '../context'
import { formatRole } from '../role/format'
import { printJson } from '../io'
import { spawnCommandSync } from '../run-sync'
import { currentRole } from '../role'
import { defineCommand } from './command'

export const roleCommand = defineCommand({
  command: 'role',
  describe: 'Tell what kind of qube this is (Whonix flavour, qube class, persistence) and why',
  async run(args, io, features) {
    // Run once, nothing else on the event loop: qubesdb-read may block it (agent/run-sync.ts).
    const context = await contextFromArgs(args, features, spawnCommandSync)
    const role = await currentRole(context)
    if (args.json) printJson(io, role)
    else io.out(formatRole(role, args.verbose))
    return 0
  },
})
