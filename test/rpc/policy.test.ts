import { describe, expect, it } from 'vitest'
import { parsePolicyLine, renderPolicyRule, validatePolicyFile, type PolicyRule } from '../../rpc/policy'

const rule = (overrides: Partial<PolicyRule>): PolicyRule => ({
  service: 'qubes.UpdatesProxy',
  argument: '*',
  source: '@tag:whonix-updatevm',
  target: '@default',
  action: 'allow',
  params: { target: 'sys-whonix' },
  ...overrides,
})

describe('policy rendering', () => {
  it('renders the Qubes 4.2 line, parameters as separate words', () => {
    expect(renderPolicyRule(rule({}))).toBe(
      'qubes.UpdatesProxy * @tag:whonix-updatevm @default allow target=sys-whonix',
    )
    expect(renderPolicyRule(rule({ target: 'sys-whonix', params: { user: 'root', notify: 'yes' } }))).toBe(
      'qubes.UpdatesProxy * @tag:whonix-updatevm sys-whonix allow user=root notify=yes',
    )
    expect(renderPolicyRule(rule({ target: '@anyvm', action: 'deny', params: {} }))).toBe(
      'qubes.UpdatesProxy * @tag:whonix-updatevm @anyvm deny',
    )
  })
  it('accepts every source and target token of the policy format', () => {
    for (const source of [
      '*',
      '@anyvm',
      '@adminvm',
      '@tag:anon-vm',
      '@type:TemplateVM',
      '@dispvm:whonix-ws-dvm',
      '@dispvm:@tag:x',
      'sys-whonix',
    ])
      expect(() => renderPolicyRule(rule({ source, target: 'sys-whonix', params: {} }))).not.toThrow()
    for (const target of ['@default', '@dispvm', '@anyvm', '@adminvm', '@tag:t', '@type:AppVM', '@dispvm:dvm', 'dom0'])
      expect(() => renderPolicyRule(rule({ target, action: 'ask', params: {} }))).not.toThrow()
    expect(() =>
      renderPolicyRule(
        rule({ action: 'ask', params: { default_target: '@dispvm:dvm', notify: 'no', autostart: 'yes' } }),
      ),
    ).not.toThrow()
  })
})

describe('policy validator: what the real parser rejects', () => {
  const rejects: [string, string, RegExp][] = [
    [
      'an allow to @default without target=',
      'qubes.UpdatesProxy * @anyvm @default allow',
      /@default must name target=/,
    ],
    ['target=@tag:...', 'qubes.UpdatesProxy * @anyvm @default allow target=@tag:whonix', /target= takes a qube name/],
    ['default_target=@anyvm', 'svc * @anyvm @default ask default_target=@anyvm', /default_target= takes/],
    ['a + in the service column', 'qubes.UpdatesProxy+arg * @anyvm @anyvm deny', /no \+ in the service column/],
    ['comma-joined parameters', 'svc * @anyvm sys-whonix allow user=root,notify=yes', /comma/],
    ['an unknown @ token as source', 'svc * @anything sys-whonix allow', /source "@anything"/],
    ['an unknown @ token as target', 'svc * @anyvm @somewhere deny', /target "@somewhere"/],
    ['@default as a source', 'svc * @default sys-whonix deny', /source "@default"/],
    ['an unknown action', 'svc * @anyvm @anyvm permit', /action "permit"/],
    ['an unknown parameter', 'svc * @anyvm sys-whonix allow colour=red', /takes no parameter "colour"/],
    ['a parameter the action does not take', 'svc * @anyvm @anyvm deny target=x', /deny takes no parameter "target"/],
    ['a word that is not key=value', 'svc * @anyvm @anyvm deny loudly', /not a key=value/],
    ['an argument without +', 'svc arg @anyvm @anyvm deny', /must be \* or start with \+/],
    ['a specific argument for the * service', '* +arg @anyvm @anyvm deny', /\* service takes only the \* argument/],
    ['too few words', 'svc * @anyvm deny', /found 4 words/],
    ['notify=maybe', 'svc * @anyvm @anyvm deny notify=maybe', /yes or no/],
    ['a parameter twice', 'svc * @anyvm sys-x allow user=a user=b', /given twice/],
    ['an invalid qube name', 'svc * 1bad @anyvm deny', /source "1bad"/],
  ]
  for (const [what, line, message] of rejects) {
    it(`rejects ${what}`, () => {
      expect(() => parsePolicyLine(line)).toThrow(message)
      expect(validatePolicyFile(`# header\n\n${line}\n`)).toEqual([
        { line: 3, message: expect.stringMatching(message) },
      ])
    })
  }
  it('accepts comments, blank lines and include directives; reports bad directives by line', () => {
    expect(
      validatePolicyFile('# c\n\n!include-dir /etc/qubes/policy.d/include\nsvc * @anyvm @anyvm deny # trailing\n'),
    ).toEqual([])
    expect(validatePolicyFile('!include\n!frobnicate x\n')).toEqual([
      { line: 1, message: '!include takes 1 argument(s)' },
      { line: 2, message: 'unknown directive "!frobnicate"' },
    ])
  })
  it('never renders what it would reject', () => {
    expect(() => renderPolicyRule(rule({ params: {} }))).toThrow(/target=/)
    expect(() => renderPolicyRule(rule({ service: 'a+b' }))).toThrow(/no \+/)
  })
})
