import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempRoot } from '../helpers/sandbox'
import { DOM0_GRAINS, debianJinja, render, type CompiledState } from './harness'
import { apply, emptySystem } from './qubes-model'
import { parseStates, stateProblems } from './validate'

const part = debianJinja()

async function stateTree(files: Record<string, string>): Promise<string> {
  const root = await tempRoot('qwa-salt-')
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true })
    await writeFile(join(root, path), text)
  }
  return root
}

const renderOne = async (stateRoot: string, pillar: Record<string, unknown>, sls = 'probe') =>
  (await render({ stateRoot, grains: DOM0_GRAINS, pillar, sls: [sls] })).sls[sls]?.states ?? []

const state = (id: string, body: unknown, sls = 'probe'): CompiledState => ({ sls, id, body })

describe.skipIf(part.missing)('the Salt render stand-in behaves as Salt does', () => {
  it("pillar.get walks ':' paths, falls back to the default, and merge=True deep-merges a dict default (lists replaced)", async () => {
    const root = await stateTree({
      'probe.sls': [
        "{% set merged = salt['pillar.get']('f', default={'a': {'x': 1, 'y': [1, 2]}, 'b': 2}, merge=True) %}",
        'probe:',
        '  test.succeed_without_changes:',
        "    - name: {{ [salt['pillar.get']('f:a:x'), salt['pillar.get']('f:nope', 'fallback'), salt['pillar.get']('list:1'), merged, grains['id']]|json }}",
      ].join('\n'),
    })
    const [probe] = await renderOne(root, { f: { a: { x: 5, y: [9] } }, list: ['zero', 'one'] })
    expect(probe?.body).toEqual({
      'test.succeed_without_changes': [{ name: [5, 'fallback', 'one', { a: { x: 5, y: [9] }, b: 2 }, 'dom0'] }],
    })
  })

  it('a pillar value that is not a mapping is returned unmerged, as Salt does (so the formula must ship a mapping)', async () => {
    const root = await stateTree({
      'probe.sls':
        "probe:\n  test.succeed_without_changes:\n    - name: {{ salt['pillar.get']('f', default={'a': 1}, merge=True)|json }}\n",
    })
    const [probe] = await renderOne(root, { f: null })
    expect(probe?.body).toEqual({ 'test.succeed_without_changes': [{ name: null }] })
  })

  it('import_yaml renders then loads a file of the tree; import_text reads one; load_yaml loads a block', async () => {
    const root = await stateTree({
      'lib/data.yaml': 'answer: {{ 6 * 7 }}\nlist: [a, b]\n',
      'lib/note.txt': 'two words\n',
      'probe.sls': [
        "{% import_yaml 'lib/data.yaml' as data %}{% import_text 'lib/note.txt' as note %}",
        '{% load_yaml as inline %}',
        'k: v',
        '{% endload %}',
        'probe:',
        '  test.succeed_without_changes:',
        '    - name: {{ [data, note.split(), inline]|json }}',
      ].join('\n'),
    })
    const [probe] = await renderOne(root, {})
    expect(probe?.body).toEqual({
      'test.succeed_without_changes': [{ name: [{ answer: 42, list: ['a', 'b'] }, ['two', 'words'], { k: 'v' }] }],
    })
  })

  it('refuses an ID twice in one file, an undefined variable, and follows includes once each', async () => {
    const twice = await stateTree({ 'probe.sls': 'a:\n  test.nop: []\na:\n  test.nop: []\n' })
    await expect(renderOne(twice, {})).rejects.toThrow(/conflicting ID 'a'/)
    const undefinedName = await stateTree({ 'probe.sls': 'a:\n  test.nop:\n    - name: {{ nothing.here }}\n' })
    await expect(renderOne(undefinedName, {})).rejects.toThrow(/UndefinedError/)
    const included = await stateTree({
      'probe.sls': 'include:\n  - lib.one\n  - lib\nmine:\n  test.nop: []\n',
      'lib/init.sls': 'include:\n  - lib.one\nlib:\n  test.nop: []\n',
      'lib/one.sls': 'one:\n  test.nop: []\n',
    })
    const answer = await render({ stateRoot: included, grains: DOM0_GRAINS, pillar: {}, sls: ['probe'] })
    expect(answer.sls.probe?.order).toEqual(['lib.one', 'lib', 'probe'])
  })
})

describe('the state validator rejects what Salt or the qvm module would', () => {
  it('accepts a well-formed state', () => {
    const states = [
      state('t', {
        'qvm.template_installed': [{ name: 'whonix-gateway-18' }, { fromrepo: 'qubes-templates-community' }],
      }),
      state('g', {
        'qvm.vm': [
          { name: 'sys-whonix' },
          { present: [{ template: 'whonix-gateway-18' }, { label: 'black' }] },
          { prefs: [{ 'provides-network': true }, { memory: 500 }] },
          { require: [{ qvm: 't' }] },
        ],
      }),
    ]
    expect(stateProblems(states, ['probe'])).toEqual([])
  })

  it.each([
    [
      'an ID in two SLS',
      [state('a', { 'test.nop': [] }, 'one'), state('a', { 'test.nop': [] }, 'two')],
      /conflicting ID a in one and two/,
    ],
    [
      'an unknown function',
      [state('a', { 'qvm.make_it_so': [{ name: 'x' }] })],
      /qvm.make_it_so is not a state function/,
    ],
    [
      'an argument the function does not take',
      [state('a', { 'pkg.installed': [{ name: 'x' }, { refrsh: true }] })],
      /takes no argument refrsh/,
    ],
    [
      'a property spelled as the module does not accept it',
      [state('a', { 'qvm.vm': [{ name: 'x' }, { prefs: [{ provides_network: true }] }] })],
      /prefs takes no option provides_network/,
    ],
    [
      'a boolean given as a string (never equal to the current value)',
      [state('a', { 'qvm.prefs': [{ name: 'x' }, { autostart: 'true' }] })],
      /autostart: "true" is not a boolean/,
    ],
    [
      'memory as a string',
      [state('a', { 'qvm.vm': [{ name: 'x' }, { prefs: [{ memory: '500' }] }] })],
      /memory: "500" is not a integer/,
    ],
    [
      'a label Qubes does not have',
      [state('a', { 'qvm.vm': [{ name: 'x' }, { present: [{ label: 'pink' }] }] })],
      /label: "pink" is not a label/,
    ],
    ['an invalid qube name', [state('a', { 'qvm.vm': [{ name: 'sys whonix' }] })], /name is not a qube name/],
    [
      'a requisite that points nowhere',
      [state('a', { 'qvm.vm': [{ name: 'x' }, { require: [{ qvm: 'missing' }] }] })],
      /require qvm: missing matches no state/,
    ],
    [
      'a requisite on the wrong module',
      [state('b', { 'test.nop': [] }), state('a', { 'qvm.vm': [{ name: 'x' }, { require: [{ qvm: 'b' }] }] })],
      /require qvm: b matches no state/,
    ],
    [
      'an empty service list',
      [state('a', { 'qvm.vm': [{ name: 'x' }, { service: [{ enable: [] }] }] })],
      /service enable wants a non-empty list/,
    ],
    [
      'two function keys',
      [state('a', { 'test.nop': [], 'test.fail_without_changes': [] })],
      /exactly one 'module.function' key/,
    ],
  ])('%s', (_name, states, problem) => {
    expect(stateProblems(states, ['probe']).join('\n')).toMatch(problem)
  })
})

describe('the dom0 model refuses what qubesd refuses', () => {
  const readSource = () => ''
  it('a netvm that provides no network, a default-dispvm that is no disposable template, a template not in the repository', () => {
    const system = emptySystem({ repo: ['tpl'] })
    const states = parseStates(
      [
        state('tpl', { 'qvm.template_installed': [{ fromrepo: 'repo' }] }),
        state('plain', {
          'qvm.vm': [{ present: [{ template: 'tpl' }, { label: 'red' }] }, { require: [{ qvm: 'tpl' }] }],
        }),
        state('net', {
          'qvm.vm': [
            { name: 'client' },
            { present: [{ template: 'tpl' }, { label: 'red' }] },
            { prefs: [{ netvm: 'plain' }] },
          ],
        }),
        state('dvm', { 'qvm.prefs': [{ name: 'plain' }, { 'default-dispvm': 'plain' }] }),
        state('gone', { 'qvm.template_installed': [{ name: 'other' }, { fromrepo: 'repo' }] }),
      ],
      [],
    )
    expect(apply(system, states, readSource).failures).toEqual([
      'net: plain provides no network',
      'dvm: plain is not a disposable template',
      'gone: no template other in repo',
    ])
  })
})
