import { readFileSync } from 'node:fs'
import { constants } from 'node:os'

/** Signals that end a wait: the user's Ctrl-C, a stop, a closed terminal. */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

export interface SignalWatch {
  readonly signal: AbortSignal
  readonly received: () => NodeJS.Signals | null
  release(): void
}

/** Turns the first of `signals` into an abort; release() gives the signals back. */
export function abortOnSignals(signals: readonly NodeJS.Signals[] = STOP_SIGNALS): SignalWatch {
  const controller = new AbortController()
  let received: NodeJS.Signals | null = null
  const handler = (signal: NodeJS.Signals) => {
    received ??= signal
    controller.abort()
  }
  for (const signal of signals) process.on(signal, handler)
  return {
    signal: controller.signal,
    received: () => received,
    release: () => {
      for (const signal of signals) process.off(signal, handler)
    },
  }
}

export const signalExitCode = (signal: NodeJS.Signals) => 128 + (constants.signals[signal] ?? 0)

/**
 * Ends this process by `signal` with its default action, so the parent (bash, apt) sees a
 * death by that signal as it would without us. Resolves to 128+n only if that fails.
 */
export async function dieBy(signal: NodeJS.Signals): Promise<number> {
  process.removeAllListeners(signal)
  process.kill(process.pid, signal)
  await new Promise((resolve) => setTimeout(resolve, 200))
  return signalExitCode(signal)
}

/** Fields 5 and 8 of /proc/self/stat: our process group and the terminal's foreground group. */
export function inForegroundGroup(untrustedStat = safeStat()): boolean {
  const close = untrustedStat.lastIndexOf(')')
  if (close < 0) return false
  const fields = untrustedStat.slice(close + 2).split(' ')
  const group = Number(fields[2])
  const foreground = Number(fields[5])
  return Number.isInteger(group) && group > 0 && group === foreground
}

function safeStat(): string {
  try {
    return readFileSync('/proc/self/stat', 'utf8')
  } catch {
    return ''
  }
}
