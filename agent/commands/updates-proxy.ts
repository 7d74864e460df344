import { userInfo } from 'node:os'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { contextFromArgs } from '../context'
import { printJson } from '../io'
import { currentRole, type Role } from '../role'
import type { Io } from '../io'
import { checkApplies, runUpdatesProxyCheck } from '../updates-check/check'
import { askUpdatesQube } from '../updates-check/ask-gateway'
import { armTerminationRecord } from '../updates-check/terminate'
import { gatewayHealth, summarizeHealth } from '../updates-bridge/health'
import { applyTinyproxyBlock } from '../tinyproxy/config'
import { defineCommand, requireAction } from './command'

function currentUserName(): string {
  try {
    return userInfo().username
  } catch {
    // A uid without a passwd entry has no name; its number cannot match a user name.
    return `uid ${process.getuid?.() ?? '?'}`
  }
}

/** Outside a Whonix template there is nothing to check: say so (exit 0, as upstream's unit never runs there). */
function sayNoCheck(io: Io, role: Role, json: boolean): number {
  const reason = !role.qubes
    ? 'not a Qubes qube'
    : role.whonix === null
      ? 'not a Whonix qube'
      : role.class === null
        ? 'the qube class is unknown'
        : `a Whonix ${role.whonix} (${role.class} qube), not a template`
  if (json) printJson(io, { applicable: false, reason })
  else io.out(`updates-proxy check: nothing to check here: ${reason} (only Whonix templates check their updates proxy)`)
  return 0
}

export const updatesProxyCommand = defineCommand({
  command: 'updates-proxy [action]',
  describe:
    "Torified updates: check the template's updates proxy (check), or on the gateway: edit tinyproxy's config (setup-tinyproxy), show its health (health)",
  builder: (yargs) =>
    yargs.positional('action', { choices: ['check', 'setup-tinyproxy', 'health'] as const }).option('recheck', {
      type: 'boolean',
      default: false,
      describe: 'check: clear a previous pass and prove it again',
    }),
  async run(args, io, features) {
    const action = requireAction('updates-proxy', args.action, ['check', 'setup-tinyproxy', 'health'])
    const context = await contextFromArgs(args, features)
    if (action === 'check') {
      const role = await currentRole(context)
      if (!checkApplies(role)) return sayNoCheck(io, role, args.json)
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
    if (action === 'setup-tinyproxy') {
      // The unit's drop-in runs this wherever the package is; only a gateway's proxy is ours.
      if ((await currentRole(context)).whonix !== 'gateway') {
        if (!args.json) io.out('not a Whonix-Gateway: tinyproxy left as it is')
        else printJson(io, { path: context.manifest.paths.tinyproxyConfig, changed: false, foreignUpstreams: [] })
        return 0
      }
      const result = await applyTinyproxyBlock(context)
      if (args.json) printJson(io, result)
      else io.out(`${context.manifest.paths.tinyproxyConfig}: ${result.changed ? 'updated' : 'already up to date'}`)
      for (const line of result.foreignUpstreams)
        io.err(
          `warning: ${context.manifest.paths.tinyproxyConfig} has another upstream rule outside our block: ${line}`,
        )
      return 0
    }
    const health = await gatewayHealth(context)
    if (args.json) printJson(io, health)
    else io.out(summarizeHealth(health))
    return health.proxy.proof && health.tor.ready && health.upstream.configured ? 0 : 1
  },
})
