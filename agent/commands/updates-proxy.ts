import { userInfo } from 'node:os'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { contextFromArgs } from '../context'
import { printJson } from '../io'
import { currentRole } from '../role'
import { runUpdatesProxyCheck } from '../updates-check/check'
import { askUpdatesQube } from '../updates-check/ask-gateway'
import { armTerminationRecord } from '../updates-check/terminate'
import { gatewayHealth, summarizeHealth } from '../updates-bridge/health'
import { applyTinyproxyBlock } from '../tinyproxy/config'
import { defineCommand } from './command'

function currentUserName(): string {
  try {
    return userInfo().username
  } catch {
    // A uid without a passwd entry has no name; its number cannot match a user name.
    return `uid ${process.getuid?.() ?? '?'}`
  }
}

export const updatesProxyCommand = defineCommand({
  command: 'updates-proxy <action>',
  describe: "Torified updates: check the template's updates proxy (check), or on the gateway: edit tinyproxy's config (setup-tinyproxy), show its health (health)",
  builder: (yargs) =>
    yargs
      .positional('action', { choices: ['check', 'setup-tinyproxy', 'health'] as const, demandOption: true })
      .option('recheck', { type: 'boolean', default: false, describe: 'check: clear a previous pass and prove it again' }),
  async run(args, io, features) {
    const context = await contextFromArgs(args, features)
    if (args.action === 'check') {
      const role = await currentRole(context)
      return runUpdatesProxyCheck(
        {
          context,
          role,
          user: currentUserName(),
          io,
          now: () => performance.now(),
          sleep: (ms) => sleep(ms),
          diagnose: (timeoutMs) => askUpdatesQube(context, timeoutMs),
          pastUserCheck: () => armTerminationRecord(context),
        },
        { recheck: args.recheck },
      )
    }
    if (args.action === 'setup-tinyproxy') {
      // The unit's drop-in runs this wherever the package is; only a gateway's proxy is ours.
      if ((await currentRole(context)).whonix !== 'gateway') {
        if (!args.json) io.out('not a Whonix-Gateway: tinyproxy left as it is')
        else printJson(io, { path: context.manifest.paths.tinyproxyConfig, changed: false, foreignUpstreams: [] })
        return 0
      }
      const result = await applyTinyproxyBlock(context)
      if (args.json) printJson(io, result)
      else io.out(`${context.manifest.paths.tinyproxyConfig}: ${result.changed ? 'updated' : 'already up to date'}`)
      for (const line of result.foreignUpstreams) io.err(`warning: ${context.manifest.paths.tinyproxyConfig} has another upstream rule outside our block: ${line}`)
      return 0
    }
    const health = await gatewayHealth(context)
    if (args.json) printJson(io, health)
    else io.out(summarizeHealth(health))
    return health.proxy.proof && health.tor.ready && health.upstream.configured ? 0 : 1
  },
})
