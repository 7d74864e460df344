import type { FileFact } from '../role/facts'
import type { Manifest } from '../manifest/schema'
import type { MarkerReading } from './facts'

/** The reasons apt is refused: the wait's outcomes other than passed and aborted. */
export type RefusalOutcome = 'failed' | 'timeout' | 'unusable'

export interface RefusalFacts {
  /** What was stopped, as upstream named it ('<command>' in the first line). */
  readonly command: string
  /** What stopped it ('<gate>'). */
  readonly gate: string
  readonly outcome: RefusalOutcome
  readonly reading: MarkerReading | null
  /** System paths (not re-rooted) for the user. */
  readonly directory: string
  readonly markers: { readonly secure: string; readonly done: string }
  readonly timeoutMs: number
  readonly templateName: string | null
  /** The updates qube's health in a line, when it could be had. */
  readonly health: string | null
  readonly help: Manifest['aptGate']['help']
  readonly recheck: string
  /** What kept the bytes in: one line, true for the way in that refused (see stoppedLine). */
  readonly stopped: string
}

/**
 * The uwt drop-in and `--exec` refuse before apt runs. The APT hook cannot stop apt (apt
 * fetches whatever the hook says); the updates gate at the proxy's address answers its
 * requests instead.
 */
export function stoppedLine(mode: 'command' | 'hook' | 'any', proxyUrl: string): string {
  return mode === 'hook'
    ? `apt goes on to ask ${proxyUrl}, where this template's updates gate answers every request with 503 until the check passes: nothing reaches the updates qube.`
    : 'apt was stopped before it could connect, so nothing went out in the clear.'
}

/** The first line, kept exactly as upstream prints it: scripts and users look for it. */
export const warningLine = (command: string, gate: string) =>
  `WARNING: Execution of '${command}' prevented by '${gate}' because no torified Qubes updates proxy found.`

function why(facts: RefusalFacts): string {
  const { directory, markers, reading } = facts
  switch (facts.outcome) {
    case 'failed':
      return `The check has finished (${directory}/${markers.done} exists) without proving that the updates proxy leads to a Whonix-Gateway (${directory}/${markers.secure} is missing).`
    case 'timeout':
      return reading?.directory === 'missing'
        ? `The check gave no result within ${facts.timeoutMs / 1000} s: ${directory} does not even exist, so the check has not run.`
        : `The check gave no result within ${facts.timeoutMs / 1000} s: neither ${markers.secure} nor ${markers.done} appeared in ${directory}.`
    case 'unusable':
      return reading?.directory === 'not-a-directory'
        ? `${directory} is not a directory, so the check's result cannot be read.`
        : `${directory} cannot be read by this user (permission denied), so the check's result cannot be seen.`
  }
}

const ignored = (fact: FileFact | undefined, path: string) =>
  fact === 'not-a-file' ? [`(${path} is not a regular file: a link or a directory there does not count.)`] : []

/** The whole refusal text for stderr (pure). */
export function refusalText(facts: RefusalFacts): string {
  const { help, directory, markers } = facts
  const template = facts.templateName ?? 'THIS-TEMPLATE'
  return [
    warningLine(facts.command, facts.gate),
    '',
    'This is a Whonix template: its updates must reach the Internet over Tor, through the Qubes',
    'updates proxy and a Whonix-Gateway.',
    why(facts),
    facts.stopped,
    ...ignored(facts.reading?.secureProxy, `${directory}/${markers.secure}`),
    ...(facts.health === null ? [] : ['', `Updates qube: ${facts.health}`]),
    '',
    ...dom0Steps(help, template, facts.recheck),
  ].join('\n')
}

/** How to send this template's updates through the gateway: dom0's three steps, then the recheck. */
export function dom0Steps(help: Manifest['aptGate']['help'], template: string, recheck: string): string[] {
  return [
    `To send this template's updates through ${help.gatewayQube}, in dom0:`,
    `  1. start ${help.gatewayQube} if it is not running:`,
    `       qvm-start --skip-if-running ${help.gatewayQube}`,
    '  2. tag this template as one whose updates go through Whonix:',
    `       qvm-tags ${template} add ${help.updatesTag}`,
    `  3. make sure this line comes first in ${help.policyFile}:`,
    `       ${help.policyLine}`,
    'Then check again in this template, and run your command again:',
    `       ${recheck}`,
    `'qubes-whonix-agent status' shows the check's state. More: ${help.wiki}`,
  ]
}
