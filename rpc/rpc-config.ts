/**
 * `/etc/qubes/rpc-config/SERVICE`: per-service qrexec options, `key = value` lines,
 * booleans true/false, strings in single quotes (docs/qubes-facts.md).
 */
export interface RpcConfig {
  readonly skipServiceDescriptor?: boolean
  readonly exitOnServiceEof?: boolean
  readonly exitOnClientEof?: boolean
  readonly waitForSession?: boolean
  readonly forceUser?: string
}

const KEYS: Readonly<Record<keyof RpcConfig, string>> = {
  skipServiceDescriptor: 'skip-service-descriptor',
  exitOnServiceEof: 'exit-on-service-eof',
  exitOnClientEof: 'exit-on-client-eof',
  waitForSession: 'wait-for-session',
  forceUser: 'force-user',
}

/** The file's lines; empty when no option is set (then no file is needed). */
export function renderRpcConfig(config: RpcConfig): string {
  const lines: string[] = []
  for (const [key, name] of Object.entries(KEYS) as [keyof RpcConfig, string][]) {
    const value = config[key]
    if (value === undefined) continue
    lines.push(`${name} = ${typeof value === 'boolean' ? String(value) : `'${value.replace(/[^a-z0-9_-]/g, '')}'`}`)
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`
}

/** Parses an rpc-config file (unknown keys and bad values are reported, not guessed). */
export function parseRpcConfig(text: string): { config: RpcConfig; problems: string[] } {
  const config: Record<string, boolean | string> = {}
  const problems: string[] = []
  const byName = new Map(Object.entries(KEYS).map(([key, name]) => [name, key]))
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/#.*$/, '').trim()
    if (line === '') return
    const match = /^([a-z-]+)\s*=\s*(true|false|'[^']*')$/.exec(line)
    const key = match ? byName.get(match[1] ?? '') : undefined
    if (!match || key === undefined)
      return void problems.push(`line ${index + 1}: cannot parse ${JSON.stringify(line.slice(0, 80))}`)
    const value = match[2] ?? ''
    config[key] = value.startsWith("'") ? value.slice(1, -1) : value === 'true'
  })
  return { config: config, problems }
}
