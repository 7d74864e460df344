import { contextFromArgs } from '../context'
import { formatGatewayInterface } from '../gateway-interface/format'
import { setUpGatewayInterface } from '../gateway-interface/setup'
import { printJson } from '../io'
import { currentRole } from '../role'
import { defineCommand } from './command'

export const gatewayInterfaceCommand = defineCommand({
  command: 'gateway-interface',
  describe:
    'On a Whonix-Gateway AppVM: create the internal interface (a dummy eth1) with the addresses from qubesdb, and bring it up',
  builder: (yargs) =>
    yargs.option('dry-run', { type: 'boolean', default: false, describe: 'show the commands; run none' }),
  async run(args, io, features) {
    const context = await contextFromArgs(args, features)
    const report = await setUpGatewayInterface(context, await currentRole(context), { dryRun: args['dry-run'] })
    if (args.json) printJson(io, report)
    else io.out(formatGatewayInterface(report))
    return 0
  },
})
