import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CodedError } from '../../rpc/errors'
import { createContext } from '../context'
import { formatStatus } from '../format'
import { printJson, type Io } from '../io'
import { buildSimulatedQube } from '../simulate/build'
import { PROFILE_NAMES, PROFILES, type ProfileName } from '../simulate/profiles'
import { markSimulation, simulationRoot } from '../simulate/root'
import { currentStatus } from '../status'
import { replaceIps } from '../replace-ips/apply'
import { formatReplaceIps } from '../replace-ips/format'
import { checkApplies } from '../updates-check/check'
import { demoCheck } from '../updates-check/demo'
import { demoQrexecCalls } from '../daemon/demo'
import { demoStackedTor } from '../stacked-tor/demo'
import { defineCommand, type Features } from './command'

async function demo(
  profileName: ProfileName,
  args: { config: string | undefined; json: boolean; verbose: boolean },
  io: Io,
  features: Features,
): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), `qwa-${profileName}-`))
  try {
    const manifest = await features.loadManifest(args.config)
    await buildSimulatedQube(root, PROFILES[profileName], manifest)
    // Only the simulated root's qubesdb-read may answer: the host's PATH is not consulted.
    const context = await createContext({ root, manifest, env: { ...process.env, PATH: '' } })
    const status = await currentStatus(context)
    if (args.json) printJson(io, { profile: profileName, status })
    else
      io.out(
        `\n== ${profileName}: ${PROFILES[profileName].description}\n$ qubes-whonix-agent --root ${root} status\n${formatStatus(status, args.verbose)}`,
      )
    // Whonix qubes: their configuration files get the addresses Qubes assigned (never in a template).
    if (!args.json && status.role.whonix !== null)
      io.out(
        `$ qubes-whonix-agent --root ${root} replace-ips\n${formatReplaceIps(await replaceIps(context, status.role), false)}`,
      )
    if (!args.json && checkApplies(status.role)) await demoCheck(context, status.role, io)
    if (!args.json) await demoQrexecCalls(context, io, features.handlers)
    if (!args.json) await demoStackedTor(context, status.role, io)
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

export const simulateCommand = defineCommand({
  command: 'simulate',
  describe:
    'Build a sandbox root that looks like a Whonix qube (with --root, kept there); without --root, show the agent on each kind of qube',
  builder: (yargs) =>
    yargs.option('as', {
      choices: PROFILE_NAMES,
      describe: 'the kind of qube to simulate (all of them in the demo when omitted)',
    }),
  async run(args, io, features) {
    const as = args.as
    if (args.root !== '/') {
      if (as === undefined) throw new CodedError('USAGE', 'simulate --root DIR needs --as PROFILE', { exitCode: 2 })
      const manifest = await features.loadManifest(args.config)
      const root = await simulationRoot(args.root, as)
      await markSimulation(root, as)
      await buildSimulatedQube(root, PROFILES[as], manifest)
      if (args.json) printJson(io, { profile: as, root })
      else
        io.out(
          `Built a simulated ${as} (${PROFILES[as].description}) at ${root}\nTry: qubes-whonix-agent --root ${root} status`,
        )
      return 0
    }
    if (!args.json) io.out('qubes-whonix-agent demo: each kind of qube is simulated in a temporary root, then removed.')
    for (const name of as === undefined ? PROFILE_NAMES : [as]) await demo(name, args, io, features)
    return 0
  },
})
