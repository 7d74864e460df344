import { describe, expect, it } from 'vitest'
import { parseRpcConfig, renderRpcConfig } from '../../rpc/rpc-config'

describe('rpc-config files', () => {
  it('renders key = value lines: booleans bare, strings single-quoted; nothing when no option is set', () => {
    expect(renderRpcConfig({ exitOnServiceEof: true, skipServiceDescriptor: false })).toBe(
      'skip-service-descriptor = false\nexit-on-service-eof = true\n',
    )
    expect(renderRpcConfig({ forceUser: 'user' })).toBe("force-user = 'user'\n")
    expect(renderRpcConfig({})).toBe('')
  })
  it('parses what it renders, and reports lines it cannot read', () => {
    expect(
      parseRpcConfig(renderRpcConfig({ exitOnClientEof: true, waitForSession: false, forceUser: 'root' })),
    ).toEqual({ config: { exitOnClientEof: true, waitForSession: false, forceUser: 'root' }, problems: [] })
    expect(parseRpcConfig('# comment\nexit-on-service-eof = yes\ncolour = true\n').problems).toEqual([
      'line 2: cannot parse "exit-on-service-eof = yes"',
      'line 3: cannot parse "colour = true"',
    ])
  })
})
