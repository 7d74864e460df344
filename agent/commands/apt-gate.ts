import { basename } from 'node:path'
import { CodedError } from '../../rpc/errors'
import type { GateMode } from '../apt-gate/conditions'
import { execForwarding } from '../apt-gate/exec'
import { runGate, type GateResult } from '../apt-gate/gate'
import { ancestorNames, updateLabel } from '../apt-gate/label'
import { abortOnSignals, dieBy } from '../apt-gate/signals'
import { contextFromArgs, type AgentContext } from '../context'
import { printJson, type Io } from '../io'
import { defineCommand } from './command'

const REFUSED = 255

interface GateArgs {
  readonly command: string | undefined
  readonly hook: boolean | undefined
  readonly exec: boolean | undefined
  readonly alert: boolean | undefined
  readonly _: readonly (string | number)[]
}

/**
 * Runs the gate with signals turned into an abort; a signal ends us by that same signal.
 * `report` says the verdict before anything is tidied up, so a waiting shell goes on at once.
 */
async function gateOrDie(
  context: AgentContext,
  io: Io,
  mode: GateMode,
  command: string,
  gate: string,
  report?: (result: GateResult) => void,
): Promise<GateResult | number> {
  const signals = abortOnSignals()
  const parent = process.ppid
  try {
    const result = await runGate(context, {
      mode,
      command,
      gate,
      signal: signals.signal,
      // Reparented: whoever wanted apt to run is gone.
      stillWanted: () => process.ppid === parent,
      // Scripts read a refusal's first line (the WARNING): the note comes first only for a person.
      onWait: (message) => {
        if (process.stderr.isTTY) io.err(`qubes-whonix-agent: ${message}`)
      },
    })
    const received = signals.received()
    if (result.verdict === 'aborted') return received ? dieBy(received) : REFUSED
    if (result.verdict === 'refused') io.err(result.text)
    report?.(result)
    return result
  } finally {
    signals.release()
  }
}

async function runExec(context: AgentContext, io: Io, argv: readonly string[]): Promise<number> {
  const [program, ...rest] = argv
  if (program === undefined) throw new CodedError('USAGE', 'apt-gate --exec needs a command after --', { exitCode: 2 })
  const result = await gateOrDie(context, io, { kind: 'command', program }, program, context.manifest.aptGate.gateName)
  if (typeof result === 'number') return result
  if (result.verdict === 'refused') return REFUSED
  const ended = await execForwarding([program, ...rest], context.env)
  return ended.signal ? dieBy(ended.signal) : (ended.code ?? 1)
}

export const aptGateCommand = defineCommand<GateArgs>({
  command: 'apt-gate',
  describe:
    'Gate apt in a Whonix template on the torified updates-proxy check: wait for its result, proceed or refuse (exit 255). Used by the uwt drop-in (--command), the APT hook (--hook), standalone (--exec -- CMD...), and the desktop alert (--alert)',
  builder: (yargs) =>
    yargs
      // Words after `--` are the command to run, exactly as given.
      .parserConfiguration({ 'parse-positional-numbers': false })
      .option('command', {
        type: 'string',
        requiresArg: true,
        describe:
          "the program uwt is about to run (the drop-in passes $uwtwrapper_parent); prints 'passed' or 'not-gated'",
      })
      .option('hook', { type: 'boolean', describe: 'run as the APT::Update::Pre-Invoke hook' })
      .option('exec', {
        type: 'boolean',
        describe: 'run the command after -- once the gate lets it (exit code and signals passed through)',
      })
      .option('alert', {
        type: 'boolean',
        describe: 'tell the desktop user, once per boot, when the check has not passed (systemd user timer)',
      })
      .conflicts({ command: ['hook', 'exec', 'alert'], hook: ['exec', 'alert'], exec: 'alert' }),
  async run(args, io, features) {
    const context = await contextFromArgs(args, features)
    const { files } = context.manifest.aptGate
    if (args.alert) {
      const { runAlert } = await import('../apt-gate/alert')
      const result = await runAlert(context)
      if (args.json) printJson(io, result)
      else
        io.err(
          `qubes-whonix-agent: ${result.sent ? `told the user (notification ${result.id})` : `no alert: ${result.reason}`}`,
        )
      return 0
    }
    if (args.exec) return runExec(context, io, args._.slice(1).map(String))
    if (args.hook) {
      const label = updateLabel(await ancestorNames(process.ppid), basename(files.aptHookScript))
      const result = await gateOrDie(context, io, { kind: 'hook' }, label, files.aptHook)
      if (typeof result === 'number') return result
      return result.verdict === 'refused' ? REFUSED : 0
    }
    if (args.command === undefined)
      throw new CodedError('USAGE', 'apt-gate needs one of --command PROGRAM, --hook, --exec -- COMMAND..., --alert', {
        exitCode: 2,
      })
    // Made ready before the wait, so the verdict line costs only its write (a reader gone away is no error).
    process.stdout.on('error', () => undefined)
    const result = await gateOrDie(
      context,
      io,
      { kind: 'command', program: args.command },
      args.command,
      files.uwtDropIn,
      (verdict) => {
        if (args.json)
          printJson(
            io,
            verdict.verdict === 'refused' ? { verdict: verdict.verdict, outcome: verdict.outcome } : verdict,
          )
        else if (verdict.verdict !== 'refused') io.out(verdict.verdict)
      },
    )
    if (typeof result === 'number') return result
    return result.verdict === 'refused' ? REFUSED : 0
  },
})
