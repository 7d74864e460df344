import type { ProbeResult } from '../updates-proxy/probe'

/**
 * Untrusted text as one printable line, in JSON's double quotes: newlines, ESC and every
 * other control character escaped, so it cannot start a line, a journald priority or a
 * terminal sequence where it is printed.
 */
export function quotePrintable(untrusted: string): string {
  // JSON escapes C0 controls and quotes; C1 controls and line separators could still move a terminal.
  return JSON.stringify(untrusted).replace(
    /[\x7f-\x9f\u2028\u2029]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

/** A bounded, printable excerpt of untrusted bytes: control characters escaped, the size said. */
export function excerpt(untrusted: Buffer, maxBytes: number, truncated = false): string {
  const printable = quotePrintable(untrusted.subarray(0, maxBytes).toString('utf8'))
  const more =
    untrusted.length > maxBytes || truncated
      ? ` ... (first ${Math.min(maxBytes, untrusted.length)} of ${truncated ? `more than ${untrusted.length}` : untrusted.length} bytes)`
      : ''
  return `${printable}${more}`
}

/** One line saying what one try gave, for the diagnostic and the report. */
export function describeProbe(result: ProbeResult, excerptBytes: number): string {
  if (result.kind === 'failed') return result.error
  if (result.notReady !== null)
    return `HTTP ${result.status}, the updates qube says it is not ready: ${excerpt(Buffer.from(result.notReady), excerptBytes)}`
  const body =
    result.body.length === 0 ? 'an empty body' : `body ${excerpt(result.body, excerptBytes, result.truncated)}`
  return `HTTP ${result.status} with ${body}`
}

export interface Diagnostic {
  readonly headline: string
  readonly url: string
  readonly expected: string
  readonly received: string
  readonly attempts: number
  readonly elapsedMs: number
  /** What the updates qube said about itself, when it could be asked. */
  readonly updatesQube: string | null
}

export function formatDiagnostic(diagnostic: Diagnostic): string {
  return [
    `updates proxy check failed: ${diagnostic.headline}`,
    `  URL:          ${diagnostic.url}`,
    `  expected:     a body containing ${diagnostic.expected}`,
    `  received:     ${diagnostic.received}`,
    `  tries:        ${diagnostic.attempts} in ${(diagnostic.elapsedMs / 1000).toFixed(1)} s`,
    ...(diagnostic.updatesQube === null ? [] : [`  updates qube: ${diagnostic.updatesQube}`]),
  ].join('\n')
}
