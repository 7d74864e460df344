import { CodedError } from '../../rpc/errors'
import type { ControlConnection, ControlReply } from './connection'
import { getinfoValue, replyWords } from './syntax'

/** Tor's bootstrap state, as `status/bootstrap-phase` and STATUS_CLIENT BOOTSTRAP events carry it. */
export interface BootstrapPhase {
  /** 0..100; 100 means Tor can build circuits. */
  readonly progress: number
  readonly tag: string
  readonly summary: string
  /** Set when Tor reports a problem on the way (severity WARN). */
  readonly warning: string | null
}

const MAX_TEXT = 200

/** Parses `NOTICE BOOTSTRAP PROGRESS=45 TAG=loading_descriptors SUMMARY="..."` (also the text of a STATUS_CLIENT event). */
export function parseBootstrapPhase(untrustedText: string): BootstrapPhase {
  const { words, keywords } = replyWords(untrustedText)
  const bootstrapAt = words.indexOf('BOOTSTRAP')
  const progress = Number(keywords.get('PROGRESS'))
  if (bootstrapAt === -1 || !Number.isInteger(progress) || progress < 0 || progress > 100)
    throw new CodedError(
      'TOR_CONTROL_PROTOCOL',
      `Tor sent a malformed bootstrap phase ${JSON.stringify(untrustedText.slice(0, 80))}`,
    )
  const severity = words[bootstrapAt - 1]
  const warning =
    severity === 'WARN'
      ? (keywords.get('WARNING') ?? keywords.get('REASON') ?? 'unknown problem').slice(0, MAX_TEXT)
      : null
  return {
    progress,
    tag: (keywords.get('TAG') ?? '').slice(0, MAX_TEXT),
    summary: (keywords.get('SUMMARY') ?? '').slice(0, MAX_TEXT),
    warning,
  }
}

export async function readBootstrapPhase(connection: ControlConnection): Promise<BootstrapPhase> {
  const reply = await connection.command('GETINFO status/bootstrap-phase')
  return parseBootstrapPhase(getinfoValue(reply.lines, 'status/bootstrap-phase'))
}

/** The bootstrap phase in a STATUS_CLIENT event, or null for any other event. */
export function bootstrapEvent(reply: ControlReply): BootstrapPhase | null {
  const text = reply.lines[0] ?? ''
  return text.startsWith('STATUS_CLIENT ') && / BOOTSTRAP /.test(text)
    ? parseBootstrapPhase(text.slice('STATUS_CLIENT '.length))
    : null
}

/** One line for a person: "bootstrap 45% (Loading relay descriptors)", plus Tor's warning if any. */
export function describeBootstrap(phase: BootstrapPhase): string {
  const summary = phase.summary ? ` (${phase.summary})` : ''
  return `bootstrap ${phase.progress}%${summary}${phase.warning ? `; Tor warns: ${phase.warning}` : ''}`
}
