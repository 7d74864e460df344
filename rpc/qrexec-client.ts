import { CodedError, QREXEC_EXIT, QrexecFailureError, QrexecRefusedError, QrexecServiceNotFoundError } from './errors'

/**
 * Calling a service in another qube: qrexec-client-vm does it (the data flows over a Xen
 * vchan only the C library opens), so the client builds its argument vector as data and
 * maps qrexec's own exit codes to typed errors.
 */
export const QREXEC_CLIENT_VM = '/usr/bin/qrexec-client-vm'

// Targets: a qube name, or one of qrexec's @ keywords (not a policy group like @tag:).
const TARGET = /^([A-Za-z][A-Za-z0-9_.-]{0,30}|@default|@adminvm|@dispvm|@dispvm:[A-Za-z][A-Za-z0-9_.-]{0,30})$/
const SERVICE_CALL = /^[A-Za-z0-9._-]{1,255}(\+[A-Za-z0-9+._-]*)?$/

export interface ServiceCallRequest {
  readonly target: string
  /** `SERVICE` or `SERVICE+ARG`. */
  readonly service: string
  readonly program?: string
}

/** The argument vector of `qrexec-client-vm TARGET SERVICE[+ARG]`; refuses what qrexec would mangle. */
export function qrexecClientVmArgv(request: ServiceCallRequest): [string, ...string[]] {
  if (!TARGET.test(request.target))
    throw new CodedError(
      'RPC_BAD_TARGET',
      `${JSON.stringify(request.target)} is not a qube name or a qrexec target keyword`,
    )
  if (!SERVICE_CALL.test(request.service))
    throw new CodedError(
      'RPC_BAD_SERVICE',
      `${JSON.stringify(request.service)} is not SERVICE or SERVICE+ARG in the qrexec character set`,
    )
  return [request.program ?? QREXEC_CLIENT_VM, request.target, request.service]
}

/** How a finished qrexec-client-vm run looks (agent/run.ts's result fits). */
export interface ClientRun {
  readonly exitCode: number | null
  readonly signal?: string | null
  readonly stdout: string
  readonly stderr: string
  readonly timedOut?: boolean
  /** More output than the bound: the runner killed it and kept none of it. */
  readonly overflowed?: boolean
  readonly spawnError?: string
}

/**
 * The answer of a call, or the typed error: 126 refused by policy, 127 no such service,
 * 125 qrexec failure; any other non-zero code is the service's own.
 */
export function interpretClientRun(request: ServiceCallRequest, run: ClientRun): string {
  const what = `${request.service} on ${request.target}`
  const detail = run.stderr.trim().split('\n').slice(-1)[0]?.slice(0, 200) ?? ''
  const suffix = detail ? `: ${detail}` : ''
  const command = qrexecClientVmArgv(request)
  if (run.spawnError !== undefined)
    throw new QrexecFailureError(`cannot run ${command[0]} (${run.spawnError}); is this a Qubes qube?`, { command })
  if (run.timedOut) throw new CodedError('RPC_TIMEOUT', `${what}: no answer in time`, { command })
  // Checked before the exit code: the program may have ended with 0 before the kill came.
  if (run.overflowed)
    throw new CodedError('RPC_ANSWER_TOO_LARGE', `${what}: the answer is larger than its bound`, { command })
  if (run.exitCode === QREXEC_EXIT.refused)
    throw new QrexecRefusedError(`${what}: refused by the dom0 policy${suffix}`, { command })
  if (run.exitCode === QREXEC_EXIT.notFound)
    throw new QrexecServiceNotFoundError(`${what}: no such service there${suffix}`, { command })
  if (run.exitCode === QREXEC_EXIT.failure) throw new QrexecFailureError(`${what}: qrexec failed${suffix}`, { command })
  if (run.exitCode !== 0)
    throw new CodedError(
      'RPC_SERVICE_FAILED',
      `${what}: the service exited ${run.exitCode ?? `on signal ${run.signal ?? '?'}`}${suffix}`,
      { command, ...(run.exitCode === null ? {} : { exitCode: run.exitCode }) },
    )
  return run.stdout
}

export interface ClientCommand {
  readonly argv: readonly [string, ...string[]]
  readonly timeoutMs: number
  readonly maxOutputBytes: number
  readonly input?: string
}

/** Calls a service in another qube through `run` (the program's one process runner). */
export async function callQrexecService(
  run: (command: ClientCommand) => Promise<ClientRun>,
  request: ServiceCallRequest & {
    readonly input?: string
    readonly timeoutMs: number
    readonly maxOutputBytes: number
  },
): Promise<string> {
  const argv = qrexecClientVmArgv(request)
  const result = await run({
    argv,
    timeoutMs: request.timeoutMs,
    maxOutputBytes: request.maxOutputBytes,
    ...(request.input === undefined ? {} : { input: request.input }),
  })
  return interpretClientRun(request, result)
}
