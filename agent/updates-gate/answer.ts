import { dom0Steps } from '../apt-gate/refusal'
import type { Manifest } from '../manifest/schema'
import type { CheckReport } from '../updates-check/report'

export interface GateRefusal {
  /** pending: no result yet; failed: check-done without a pass; unusable: the result cannot be read. */
  readonly state: 'pending' | 'failed' | 'unusable'
  /** The last check's report (read from a directory another user writes). */
  readonly untrustedReport: CheckReport | null
  readonly templateName: string | null
  /** Why the request could not even be read, when that is the case. */
  readonly headProblem: string | null
}

const printable = (untrusted: string, max: number) => untrusted.replace(/[^\x20-\x7e]/g, '?').slice(0, max)

function headline(manifest: Manifest, refusal: GateRefusal): string {
  const dir = manifest.paths.updatesProxyCheckDir
  switch (refusal.state) {
    case 'pending':
      return `the torified updates-proxy check has no result yet (nothing in ${dir}): it runs at boot and takes a few seconds.`
    case 'failed':
      return "the torified updates-proxy check failed: this template's updates proxy was not proved to lead to a Whonix-Gateway."
    case 'unusable':
      return `the torified updates-proxy check's result cannot be read (${dir}).`
  }
}

/**
 * The gate's HTTP answer to a request it does not forward: 503, and a body for the person who
 * reads apt's, pip's or curl's error: why, what the last check saw, the dom0 steps.
 */
export function gateRefusalResponse(manifest: Manifest, refusal: GateRefusal): string {
  const report = refusal.untrustedReport
  const body = [
    `This Whonix template's updates gate did not forward this request: ${headline(manifest, refusal)}`,
    ...(refusal.headProblem === null ? [] : [`(${refusal.headProblem})`]),
    ...(report === null
      ? []
      : [`Last check (${printable(report.finishedAt, 40)}): ${report.result}: ${printable(report.detail, 600)}`]),
    'Nothing was sent to the updates qube.',
    '',
    ...dom0Steps(
      manifest.aptGate.help,
      refusal.templateName === null ? 'THIS-TEMPLATE' : printable(refusal.templateName, 64),
      `sudo systemctl restart ${manifest.updatesProxy.check.unit}`,
    ),
    '',
  ].join('\n')
  return [
    'HTTP/1.1 503 Service Unavailable',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n')
}
