import { CodedError } from '../../rpc/errors'
import { serveExecutable } from '../../rpc/executable'
import { jsonHandler } from '../../rpc/json'
import { contextFromArgs } from '../context'
import { journalLog } from '../daemon/log'
import { currentRole } from '../role'
import { handlerFactory } from '../services/registry'
import { limitsOf } from '../services/table'
import { servedHere } from '../services/selectors'
import { defineCommand } from './command'

export const rpcExecCommand = defineCommand({
  command: 'rpc-exec <service> [argument]',
  describe:
    'Serve one call of SERVICE as an executable qrexec service (stdin/stdout, QREXEC_* variables), for qubes without the daemon',
  builder: (yargs) =>
    yargs
      .positional('service', {
        type: 'string',
        demandOption: true,
        describe: 'the service name (its handler comes from the manifest)',
      })
      .positional('argument', {
        type: 'string',
        describe: 'argv[1] from qrexec (the argument; QREXEC_SERVICE_ARGUMENT is what counts)',
      }),
  async run(args, _io, features) {
    const log = journalLog((text) => void process.stderr.write(text), args.verbose)
    const context = await contextFromArgs(args, features)
    const entry = Object.hasOwn(context.manifest.services.table, args.service)
      ? context.manifest.services.table[args.service]
      : undefined
    if (!entry)
      throw new CodedError('RPC_SERVICE_NOT_FOUND', `no service ${JSON.stringify(args.service)} in the manifest`, {
        exitCode: 127,
      })
    const role = await currentRole(context)
    const handler = servedHere(entry.servedBy, role)
      ? (await handlerFactory(entry.handler, features.handlers))(context, {
          role,
          log,
          daemonStatus: () => ({ running: false, reason: 'served as an executable service' }),
        })
      : jsonHandler(() => {
          throw new CodedError('SERVICE_NOT_SERVED', `${args.service} is not served on this qube`)
        })
    try {
      return await serveExecutable(
        { name: args.service, handler, limits: limitsOf(context.manifest.services, entry) },
        { env: process.env, stdin: process.stdin, stdout: process.stdout, log },
      )
    } finally {
      features.releaseShared()
    }
  },
})
