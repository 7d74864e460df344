import { lstat, readlink, stat } from 'node:fs/promises'
import { join } from 'node:path'
import {
  descriptorFor,
  parseDescriptor,
  formatDescriptor,
  type Descriptor,
  type RequestedTarget,
} from '../../rpc/descriptor'
import { CodedError, errorMessage } from '../../rpc/errors'
import { readAll } from '../../rpc/input'
import { callSocketService } from '../../rpc/socket-client'
import { contextFromArgs, type AgentContext } from '../context'
import { queryDaemonStatus } from '../daemon/query'
import { defineCommand } from './command'

const MAX_ANSWER_BYTES = 64 * 1024 * 1024
const MAX_INPUT_BYTES = 64 * 1024 * 1024

/** The socket qrexec-agent would connect to: `SERVICE+ARG` in every directory, then `SERVICE`. */
export async function findServiceSocket(
  context: AgentContext,
  service: string,
  argument: string | null,
): Promise<string> {
  const dirs = [context.paths.qrexecSocketDir, context.paths.qrexecServiceDir]
  const names = argument === null ? [service] : [`${service}+${argument}`, service]
  for (const name of names) {
    for (const dir of dirs) {
      const path = join(dir, name)
      const entry = await lstat(path).catch(() => null)
      if (!entry) continue
      const target = entry.isSymbolicLink() ? await readlink(path) : ''
      if (target.startsWith('/dev/tcp/'))
        throw new CodedError('NOT_A_SOCKET_SERVICE', `${path} is a TCP service (${target}); connect to it directly`)
      const kind = await stat(path).catch(() => null)
      if (kind?.isSocket()) return path
      throw new CodedError(
        'NOT_A_SOCKET_SERVICE',
        `${path} is ${kind ? 'not a socket (an executable service? run it directly)' : 'a dangling link (is the daemon running?)'}`,
      )
    }
  }
  throw new CodedError(
    'RPC_SERVICE_NOT_FOUND',
    `no socket for ${names.join(' or ')} in ${dirs.join(' or ')}: ${await whyNoSocket(context, service)}`,
    { exitCode: 127 },
  )
}

/** Whether the daemon runs and, if it does, what it serves instead. */
async function whyNoSocket(context: AgentContext, service: string): Promise<string> {
  const daemon = await queryDaemonStatus(context)
  if (!daemon.running) return `the daemon is not running (${daemon.reason})`
  if (daemon.busy) return `the daemon runs but is busy (${daemon.reason}); ${service} has no socket on this qube`
  const serves = daemon.services.length === 0 ? 'nothing' : daemon.services.join(', ')
  return `the running daemon (pid ${daemon.pid}) does not serve ${service} on this qube; it serves ${serves}`
}

/** The descriptor of the call asked for, refused here as the service would refuse it (a usage error). */
function descriptorOf(service: string, source: string, target: RequestedTarget | null): Descriptor {
  // One word only: white space would split the descriptor line and hide what is wrong with it.
  if (/[\s\0]/.test(service))
    throw new CodedError(
      'USAGE',
      `service ${JSON.stringify(service)} has white space: a service is NAME or NAME+ARGUMENT`,
      { exitCode: 2 },
    )
  try {
    return parseDescriptor(Buffer.from(formatDescriptor(descriptorFor(service, source, target))))
  } catch (error) {
    throw new CodedError('USAGE', errorMessage(error), { exitCode: 2 })
  }
}

export const rpcCallCommand = defineCommand({
  command: 'rpc-call <service>',
  describe:
    'Call a local socket service as qrexec-agent would for a call from --source, and print its answer (debugging, tests)',
  builder: (yargs) =>
    yargs
      .positional('service', { type: 'string', demandOption: true, describe: 'SERVICE or SERVICE+ARG' })
      .option('source', { type: 'string', default: 'dom0', describe: 'the calling qube the descriptor names' })
      .option('target-name', { type: 'string', describe: 'a call to dom0 by name: the target the caller named' })
      .option('target-keyword', { type: 'string', describe: 'a call to dom0 by keyword (adminvm)' })
      .option('stdin', { type: 'boolean', default: false, describe: "send this command's stdin as the call's input" })
      .option('timeout', { type: 'number', default: 30_000, describe: 'milliseconds to wait for the whole answer' })
      .conflicts('target-name', 'target-keyword'),
  async run(args, io, features) {
    const context = await contextFromArgs(args, features)
    const target =
      args['target-name'] !== undefined
        ? { type: 'name' as const, value: args['target-name'] }
        : args['target-keyword'] !== undefined
          ? { type: 'keyword' as const, value: args['target-keyword'] }
          : null
    const descriptor = descriptorOf(args.service, args.source, target)
    const socket = await findServiceSocket(context, descriptor.service, descriptor.argument)
    const input = args.stdin ? await readAll(process.stdin, MAX_INPUT_BYTES) : undefined
    const answer = await callSocketService(socket, descriptor, {
      timeoutMs: args.timeout,
      maxOutputBytes: MAX_ANSWER_BYTES,
      ...(input ? { input } : {}),
    })
    process.stdout.write(answer)
    // A JSON service's error answer still prints, but the exit code says it failed.
    const text = answer.toString('utf8')
    if (!args.json && text.startsWith('{"ok":false'))
      io.err(`qubes-whonix-agent: ${descriptor.service} answered an error`)
    return text.startsWith('{"ok":false') ? 1 : 0
  },
})
