import type { Readable, Writable } from 'node:stream'
import { Transform } from 'node:stream'
import { callOf, DEFAULT_LIMITS, type RpcLog } from './call'
import { formatDescriptor, parseDescriptor, type Descriptor } from './descriptor'
import { CodedError, errorMessage } from './errors'
import type { ServedService } from './server'

/** Exit codes of a handler run as an executable service (the caller sees them). */
export const EXECUTABLE_EXIT = { ok: 0, failed: 1, invalidInvocation: 2 } as const

/**
 * The call as qrexec-agent describes it to an executable service (docs/qubes-facts.md): the
 * argument in argv[1] when non-empty, the rest in QREXEC_* variables.
 */
/** The variables qrexec-agent always sets for an executable service. */
const QREXEC_ALWAYS_SET = ['QREXEC_SERVICE_FULL_NAME', 'QREXEC_REMOTE_DOMAIN'] as const

export function descriptorFromEnvironment(env: NodeJS.ProcessEnv): Descriptor {
  const unset = QREXEC_ALWAYS_SET.filter((name) => env[name] === undefined)
  if (unset.length > 0)
    throw new CodedError(
      'NOT_UNDER_QREXEC',
      `not called by qrexec: ${unset.join(' and ')} ${unset.length === 1 ? 'is' : 'are'} not set`,
    )
  const untrustedFullName = env.QREXEC_SERVICE_FULL_NAME ?? ''
  const plus = untrustedFullName.indexOf('+')
  const untrustedService = plus === -1 ? untrustedFullName : untrustedFullName.slice(0, plus)
  const untrustedArgument = env.QREXEC_SERVICE_ARGUMENT ?? null
  const untrustedType = env.QREXEC_REQUESTED_TARGET_TYPE ?? ''
  let target: Descriptor['target'] = null
  if (untrustedType === 'name') target = { type: 'name', value: env.QREXEC_REQUESTED_TARGET ?? '' }
  else if (untrustedType === 'keyword') target = { type: 'keyword', value: env.QREXEC_REQUESTED_TARGET_KEYWORD ?? '' }
  else if (untrustedType !== '')
    throw new CodedError('DESCRIPTOR_INVALID', 'QREXEC_REQUESTED_TARGET_TYPE is neither empty, name nor keyword')
  const untrusted = {
    service: untrustedService,
    argument: untrustedArgument,
    source: env.QREXEC_REMOTE_DOMAIN ?? '',
    target,
  }
  // The same checks as a socket service's descriptor.
  return parseDescriptor(Buffer.from(formatDescriptor(untrusted)))
}

function boundedInput(stdin: Readable, maxBytes: number): Readable {
  let seen = 0
  const bounded = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length
      if (seen > maxBytes) done(new CodedError('INPUT_TOO_LARGE', `input longer than ${maxBytes} bytes`))
      else done(null, chunk)
    },
  })
  stdin.on('error', (error) => bounded.destroy(error))
  return stdin.pipe(bounded)
}

export interface ExecutableStreams {
  readonly env: NodeJS.ProcessEnv
  readonly stdin: Readable
  /** Only the answer goes here: every byte reaches the caller. */
  readonly stdout: Writable
  /** Diagnostics (qrexec sends stderr to the serving qube's log). */
  readonly log: RpcLog
}

/** Runs one call of a handler as an executable service; resolves to the exit code. */
export async function serveExecutable(service: ServedService, streams: ExecutableStreams): Promise<number> {
  const limits = service.limits ?? DEFAULT_LIMITS
  const answerFailure = (error: CodedError) => {
    const answer = service.handler.failureAnswer?.(error)
    return answer === undefined
      ? Promise.resolve()
      : new Promise<void>((resolve) => streams.stdout.write(answer, () => resolve()))
  }
  let descriptor: Descriptor
  try {
    descriptor = descriptorFromEnvironment(streams.env)
    if (descriptor.service !== service.name)
      throw new CodedError('DESCRIPTOR_INVALID', `called as ${descriptor.service}, not ${service.name}`)
  } catch (error) {
    const coded = error instanceof CodedError ? error : new CodedError('DESCRIPTOR_INVALID', errorMessage(error))
    streams.log.error(`${service.name}: ${coded.message}`)
    await answerFailure(coded)
    return EXECUTABLE_EXIT.invalidInvocation
  }
  const controller = new AbortController()
  let failed: CodedError | undefined
  const timer = setTimeout(
    () => controller.abort(new CodedError('CALL_TIMEOUT', `the call took longer than ${limits.totalTimeoutMs} ms`)),
    limits.totalTimeoutMs,
  )
  const input = boundedInput(streams.stdin, limits.maxInputBytes)
  const call = callOf(descriptor, {
    input,
    output: streams.stdout,
    signal: controller.signal,
    limits,
    log: streams.log,
    reportFailure: (error) => (failed = error),
  })
  const timedOut = new Promise<never>((_, reject) =>
    controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true }),
  )
  try {
    await Promise.race([service.handler.serve(call), timedOut])
  } catch (error) {
    failed =
      error instanceof CodedError
        ? error
        : new CodedError('INTERNAL', "internal error in the service (a bug; see the serving qube's log)")
    if (!(error instanceof CodedError))
      streams.log.error(`${service.name}: bug: ${(error as Error)?.stack ?? errorMessage(error)}`)
    if (!streams.stdout.writableEnded) await answerFailure(failed)
  } finally {
    clearTimeout(timer)
    input.destroy()
  }
  if (!streams.stdout.writableEnded) await new Promise<void>((resolve) => streams.stdout.end(() => resolve()))
  if (failed) streams.log.info(`${service.name}: call from ${descriptor.source} failed: ${failed.message}`)
  return failed ? EXECUTABLE_EXIT.failed : EXECUTABLE_EXIT.ok
}
