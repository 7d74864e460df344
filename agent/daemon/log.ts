import type { RpcLog } from '../../rpc/call'

// sd-daemon(3) priority prefixes: journald reads them from each line of stderr.
const PRIORITY = { error: '<3>', warning: '<4>', info: '<6>', debug: '<7>' } as const

/** A logger writing one prefixed line per message line (a stack stays one priority). */
export function journalLog(write: (text: string) => void, verbose = false): RpcLog {
  const at = (level: keyof typeof PRIORITY) => (message: string) => {
    if (level === 'debug' && !verbose) return
    write(
      message
        .split('\n')
        .map((line) => `${PRIORITY[level]}${line}\n`)
        .join(''),
    )
  }
  return { error: at('error'), warning: at('warning'), info: at('info'), debug: at('debug') }
}

/** Prefixes every message with `name: `, for a part or a service. */
export function namedLog(log: RpcLog, name: string): RpcLog {
  return {
    error: (message) => log.error(`${name}: ${message}`),
    warning: (message) => log.warning(`${name}: ${message}`),
    info: (message) => log.info(`${name}: ${message}`),
    debug: (message) => log.debug(`${name}: ${message}`),
  }
}
