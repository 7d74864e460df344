import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import { callQrexecService, QREXEC_CLIENT_VM } from '../../rpc/qrexec-client'
import { errorMessage } from '../../rpc/errors'
import type { AgentContext } from '../context'
import { quotePrintable } from './failure-text'
import { summarizeHealth, type GatewayHealth } from '../updates-bridge/health'

export const STATUS_SERVICE = 'whonix.UpdatesProxyStatus'
const MAX_ANSWER_BYTES = 64 * 1024
const MAX_TEXT = 200

// Printable only: the answer comes from @default (maybe not sys-whonix) and is printed raw to stderr.
const text = (value: unknown): string | null => (typeof value === 'string' ? printable(value.slice(0, MAX_TEXT)) : null)
const flag = (value: unknown): boolean => value === true
const object = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {}

/** Control characters escaped as quotePrintable does, without its quotes (the text is already in a sentence). */
const printable = (untrusted: string): string => quotePrintable(untrusted).slice(1, -1)

/** Reads the updates qube's health answer (untrusted): known fields only, strings bounded. */
export function parseHealthAnswer(untrustedJson: string): GatewayHealth | string {
  let answer: Record<string, unknown>
  try {
    answer = object(JSON.parse(untrustedJson))
  } catch {
    return 'it answered something that is not JSON'
  }
  if (answer.ok !== true) return `it answered an error: ${text(object(answer.error).message) ?? 'unknown'}`
  const result = object(answer.result)
  if (result.schema !== 1)
    return `it answered an unknown schema ${printable(JSON.stringify(result.schema)?.slice(0, 20) ?? 'undefined')}`
  const proxy = object(result.proxy)
  const tor = object(result.tor)
  const upstream = object(result.upstream)
  const bootstrap = object(tor.bootstrap)
  const progress = bootstrap.progress
  return {
    schema: 1,
    proxy: {
      address: text(proxy.address) ?? '?',
      reachable: flag(proxy.reachable),
      proof: flag(proxy.proof),
      status: typeof proxy.status === 'number' ? proxy.status : null,
      error: text(proxy.error),
    },
    tor: {
      control: text(tor.control) ?? '?',
      ready: flag(tor.ready),
      bootstrap:
        typeof progress === 'number' && Number.isInteger(progress) && progress >= 0 && progress <= 100
          ? {
              progress,
              tag: text(bootstrap.tag) ?? '',
              summary: text(bootstrap.summary) ?? '',
              warning: text(bootstrap.warning),
            }
          : null,
      error: text(tor.error),
    },
    upstream: { line: text(upstream.line) ?? '?', configured: flag(upstream.configured), error: text(upstream.error) },
  }
}

/**
 * Asks the updates qube for its health over qrexec, for a failed check's diagnostic. The
 * check's result never depends on it; any failure to ask is just said.
 */
export async function askUpdatesQube(context: AgentContext, timeoutMs: number): Promise<string> {
  const { diagnosisTarget } = context.manifest.updatesProxy.check
  const program = context.paths.under(QREXEC_CLIENT_VM)
  try {
    await access(program, constants.X_OK)
  } catch {
    return `not asked: no ${QREXEC_CLIENT_VM} here`
  }
  try {
    const answer = await callQrexecService(context.run, {
      target: diagnosisTarget,
      service: STATUS_SERVICE,
      program,
      timeoutMs,
      maxOutputBytes: MAX_ANSWER_BYTES,
    })
    const health = parseHealthAnswer(answer)
    return typeof health === 'string' ? `asked ${STATUS_SERVICE}: ${health}` : summarizeHealth(health)
  } catch (error) {
    // The error may quote what the other qube wrote (its stderr).
    return `could not ask (${STATUS_SERVICE}): ${printable(errorMessage(error))}`
  }
}
