import { createHash } from 'node:crypto'

/**
 * The gateway's whonix.Tor service as dom0's shell sees it through qvm-run, for the
 * formula's cmd.run states: `qvm-run --pass-io --no-gui --service QUBE whonix.Tor+ACTION`,
 * its input, and a `grep -qF 'TEXT'` on its answer. The answers have the shape and key
 * order of the real service (test/agent/tor-settings-service.test.ts checks the same
 * substrings against the real daemon).
 */
export interface GatewayTor {
  enabled: boolean
  bridges: string[]
}

const CALL =
  /^qvm-run --pass-io --no-gui --service (\S+) whonix\.Tor\+([a-z-]+)(?: < \/dev\/null)? \| grep -qF '([^']*)'$/

const digest = (lines: readonly string[]) =>
  lines.length === 0
    ? null
    : createHash('sha256')
        .update(lines.map((line) => `${line}\n`).join(''))
        .digest('hex')

function answer(tor: GatewayTor, action: string, stdin: string): string {
  if (action === 'bridges-set') tor.bridges = stdin.split('\n').filter((line) => line !== '')
  if (action === 'bridges-clear') tor.bridges = []
  if (action === 'enable' || action === 'disable') tor.enabled = action === 'enable'
  const bridges = { count: tor.bridges.length, transports: [], digest: digest(tor.bridges) }
  return JSON.stringify({ ok: true, result: { enabled: tor.enabled, file: {}, bridges, tor: {} } })
}

/** Runs one command line of the formula; exit code 0 or 1 (grep), and whether it changed the gateway. */
export function runShell(
  gateways: Map<string, GatewayTor>,
  command: string,
  stdin = '',
): { exitCode: number; changed: boolean } {
  const match = CALL.exec(command)
  if (!match) throw new Error(`the model does not run ${command}`)
  const [, qube = '', action = '', text = ''] = match
  const tor = gateways.get(qube)
  if (!tor) return { exitCode: 1, changed: false }
  const before = JSON.stringify(tor)
  const output = answer(tor, action, stdin)
  return { exitCode: output.includes(text) ? 0 : 1, changed: JSON.stringify(tor) !== before }
}
