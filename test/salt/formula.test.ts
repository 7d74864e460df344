import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DOM0_GRAINS, STATE_ROOT, debianJinja, render, templateGrains, type CompiledState } from './harness'
import { apply, emptySystem, type System } from './qubes-model'
import { CONVERGENT_FUNCTIONS, CONVERGENT_QVM_ACTIONS } from './salt-functions'
import { parseStates, stateProblems } from './validate'

const part = debianJinja()
const TOP = 'qubes-whonix-agent/init.top'
const readSource = (url: string) => readFileSync(join(STATE_ROOT, url.replace(/^salt:\/\//, '')), 'utf8')
const COMMUNITY = {
  'qubes-templates-community': [
    'whonix-gateway-18',
    'whonix-workstation-18',
    'whonix-gateway-19',
    'whonix-workstation-19',
  ],
}

async function dom0(pillar?: Record<string, unknown>) {
  const answer = await render({
    grains: DOM0_GRAINS,
    sls: ['qubes-whonix-agent'],
    tops: [TOP],
    ...(pillar ? { pillar } : {}),
  })
  const compiled = answer.sls['qubes-whonix-agent']
  if (!compiled) throw new Error('no dom0 highstate')
  return { ...compiled, top: answer.tops[TOP], pillar: answer.pillar }
}

function applied(states: readonly CompiledState[], system: System = emptySystem(COMMUNITY)) {
  const parsed = parseStates(states, [])
  const first = apply(system, parsed, readSource)
  const second = apply(system, parsed, readSource)
  return { system, first, second }
}

const prefs = (system: System, name: string) => Object.fromEntries(system.qubes.get(name)?.prefs ?? [])

describe.skipIf(part.missing)('Salt formula in dom0 (Debian Jinja2 + PyYAML, as Salt renders jinja|yaml)', () => {
  it('the shipped pillar, compiled through its top file, is a mapping under the formula key', async () => {
    const { pillar } = await dom0()
    expect(pillar).toEqual({ 'qubes-whonix-agent': {} })
  })

  it('with the default pillar every state is valid: unique IDs, known functions and arguments, requisites that exist', async () => {
    const { states, order } = await dom0()
    expect(stateProblems(states, order)).toEqual([])
    expect(order).toEqual([
      'qubes-whonix-agent.templates',
      'qubes-whonix-agent.gateway',
      'qubes-whonix-agent.tor',
      'qubes-whonix-agent.disposable',
      'qubes-whonix-agent.workstation',
      'qubes-whonix-agent.policy',
      'qubes-whonix-agent',
    ])
  })

  it('uses only functions and qvm.vm actions that compare before they change', async () => {
    const { states } = await dom0()
    for (const state of parseStates(states, [])) {
      expect(CONVERGENT_FUNCTIONS, state.id).toContain(state.fun)
      const actions = [...state.args.keys()].filter(
        (key) => state.fun === 'qvm.vm' && !['name', 'require'].includes(key),
      )
      for (const action of actions) expect(CONVERGENT_QVM_ACTIONS, `${state.id} ${action}`).toContain(action)
    }
  })

  it('renders the same twice (nothing at render time depends on the system)', async () => {
    expect(await dom0()).toEqual(await dom0())
  })

  it("applied to a fresh system gives the Whonix qubes Qubes' own states create, and a second run changes nothing", async () => {
    const { states } = await dom0()
    const { system, first, second } = applied(states)
    expect(first.failures).toEqual([])
    expect(second).toEqual({ changes: [], failures: [] })
    for (const [template, feature] of [
      ['whonix-gateway-18', 'whonix-gw'],
      ['whonix-workstation-18', 'whonix-ws'],
    ] as const) {
      expect(system.qubes.get(template)?.klass).toBe('TemplateVM')
      expect([...(system.qubes.get(template)?.tags ?? [])]).toEqual(['whonix-updatevm'])
      expect(system.qubes.get(template)?.features.get(feature)).toBe('1')
      expect(system.qubes.get(template)?.features.get('service.updates-proxy-setup')).toBe('1')
    }
    expect(prefs(system, 'sys-whonix')).toEqual({
      template: 'whonix-gateway-18',
      label: 'black',
      memory: 500,
      netvm: 'sys-firewall',
      provides_network: true,
      autostart: true,
    })
    expect(system.qubes.get('sys-whonix')?.features).toEqual(
      new Map([
        ['servicevm', '1'],
        ['service.qubes-updates-proxy', '1'],
      ]),
    )
    expect(prefs(system, 'whonix-workstation-18-dvm')).toEqual({
      template: 'whonix-workstation-18',
      label: 'red',
      netvm: 'sys-whonix',
      template_for_dispvms: true,
      default_dispvm: 'whonix-workstation-18-dvm',
    })
    expect([...(system.qubes.get('whonix-workstation-18-dvm')?.tags ?? [])]).toEqual(['anon-vm'])
    expect(prefs(system, 'anon-whonix')).toEqual({
      template: 'whonix-workstation-18',
      label: 'red',
      netvm: 'sys-whonix',
      default_dispvm: 'whonix-workstation-18-dvm',
    })
    expect([...(system.qubes.get('anon-whonix')?.tags ?? [])]).toEqual(['anon-vm'])
    const [policyPath] = [...system.files.keys()]
    expect(policyPath).toMatch(/^\/etc\/qubes\/policy\.d\/\d\d-[a-z-]+\.policy$/)
    expect(system.files.get(policyPath ?? '')).toMatchObject({ mode: '0644', user: 'root', group: 'root' })
  })

  it('brings an existing, drifted sys-whonix back to the pillar, then leaves it alone', async () => {
    const { states } = await dom0()
    const system = emptySystem(COMMUNITY)
    apply(system, parseStates(states, []), readSource)
    const gateway = system.qubes.get('sys-whonix')
    gateway?.prefs.set('memory', 400)
    gateway?.prefs.set('label', 'purple')
    gateway?.features.delete('servicevm')
    const { first, second } = applied(states, system)
    expect(first.changes.sort()).toEqual([
      'sys-whonix: label purple -> black',
      'sys-whonix: memory 400 -> 500',
      'sys-whonix: servicevm = 1',
    ])
    expect(second.changes).toEqual([])
  })

  it('a pillar overrides version, labels, memory and services without editing a state', async () => {
    const pillar = {
      'qubes-whonix-agent': {
        version: 19,
        gateway: {
          memory: 800,
          label: 'purple',
          services: ['qubes-updates-proxy', 'skip-torified-updates-proxy-check'],
        },
        workstation: { label: 'orange', memory: 1000 },
        disposable: { features: [] },
      },
    }
    const { states, order, top } = await dom0(pillar)
    expect(stateProblems(states, order)).toEqual([])
    const { system, first, second } = applied(states)
    expect(first.failures).toEqual([])
    expect(second.changes).toEqual([])
    expect(prefs(system, 'sys-whonix')).toMatchObject({ template: 'whonix-gateway-19', label: 'purple', memory: 800 })
    expect(system.qubes.get('sys-whonix')?.features.get('service.skip-torified-updates-proxy-check')).toBe('1')
    expect(prefs(system, 'anon-whonix')).toMatchObject({
      template: 'whonix-workstation-19',
      label: 'orange',
      memory: 1000,
      default_dispvm: 'whonix-workstation-19-dvm',
    })
    expect(system.qubes.get('whonix-workstation-19-dvm')?.features.has('appmenus-dispvm')).toBe(false)
    expect(system.qubes.has('whonix-gateway-18')).toBe(false)
    expect(top).toEqual({
      base: {
        dom0: ['qubes-whonix-agent'],
        'whonix-gateway-19,whonix-workstation-19': [{ match: 'list' }, 'qubes-whonix-agent.package'],
      },
    })
  })

  it('a pillar that renames a qube the policy names gets a failing state that says so, not a silently wrong policy', async () => {
    const { states, order } = await dom0({
      'qubes-whonix-agent': { gateway: { name: 'sys-whonix-2' }, templates: { updates_tag: 'my-updatevm' } },
    })
    expect(stateProblems(states, order)).toEqual([])
    const policy = parseStates(states, []).find((state) => state.id === 'qubes-whonix-agent-policy')
    expect(policy?.fun).toBe('test.fail_without_changes')
    expect(String(policy?.args.get('name'))).toMatch(/sends no call to sys-whonix-2; it names no @tag:my-updatevm$/)
    const { first } = applied(states)
    expect(first.failures).toEqual([expect.stringMatching(/^qubes-whonix-agent-policy: The policy file/)])
  })

  it('the top file gives dom0 the qubes and the two templates the package; every SLS it names renders', async () => {
    const { top } = await dom0()
    expect(top).toEqual({
      base: {
        dom0: ['qubes-whonix-agent'],
        'whonix-gateway-18,whonix-workstation-18': [{ match: 'list' }, 'qubes-whonix-agent.package'],
      },
    })
    const answer = await render({ grains: templateGrains('whonix-gateway-18'), sls: ['qubes-whonix-agent.package'] })
    expect(answer.sls['qubes-whonix-agent.package']?.states.length).toBe(1)
  })
})

describe.skipIf(part.missing)('Salt formula in the templates (through the VM connector)', () => {
  it('installs our package from APT in a Debian-based Whonix template, once', async () => {
    const answer = await render({
      grains: templateGrains('whonix-workstation-18'),
      sls: ['qubes-whonix-agent.package'],
    })
    const compiled = answer.sls['qubes-whonix-agent.package']
    expect(stateProblems(compiled?.states ?? [], compiled?.order ?? [])).toEqual([])
    expect(compiled?.states).toEqual([
      {
        sls: 'qubes-whonix-agent.package',
        id: 'qubes-whonix-agent-package',
        body: { 'pkg.installed': [{ name: 'qubes-whonix-agent' }, { refresh: true }] },
      },
    ])
    const { system, first, second } = applied(compiled?.states ?? [])
    expect(first.changes).toEqual(['qubes-whonix-agent: package installed'])
    expect(second.changes).toEqual([])
    expect([...system.packages]).toEqual(['qubes-whonix-agent'])
    // Whonix's os grain depends on its os-release; a derivative name must not refuse it.
    const derivative = await render({
      grains: { id: 'whonix-gateway-18', os: 'Whonix', os_family: 'Whonix' },
      sls: ['qubes-whonix-agent.package'],
    })
    expect(derivative.sls['qubes-whonix-agent.package']?.states).toEqual(compiled?.states)
  })

  it('refuses, saying why, in a Fedora template', async () => {
    const grains = { id: 'fedora-41', os: 'Fedora', os_family: 'RedHat' }
    const answer = await render({ grains, sls: ['qubes-whonix-agent.package'] })
    const [state] = answer.sls['qubes-whonix-agent.package']?.states ?? []
    expect(state?.body).toEqual({
      'test.fail_without_changes': [
        { name: 'qubes-whonix-agent is a Debian package for Whonix templates; fedora-41 runs Fedora' },
      ],
    })
  })
})

describe.skipIf(part.missing)('Salt formula: Tor on sys-whonix from the pillar', () => {
  const BRIDGES = [
    'obfs4 192.0.2.1:443 0123456789ABCDEF0123456789ABCDEF01234567 cert=' + 'A'.repeat(70) + ' iat-mode=0',
    '192.0.2.7:9001',
  ]
  const torStates = (states: readonly CompiledState[]) =>
    parseStates(states, []).filter((state) => state.fun === 'cmd.run')

  it('the default pillar leaves Tor as Whonix ships it: no state touches it', async () => {
    const { states } = await dom0()
    expect(torStates(states)).toEqual([])
    const { system } = applied(states)
    expect(system.tor.get('sys-whonix')).toEqual({ enabled: false, bridges: [] })
  })

  it('enabled and bridges: set through whonix.Tor after sys-whonix exists, bridges first, each state guarded by the status; a second run changes nothing', async () => {
    const { states, order } = await dom0({ 'qubes-whonix-agent': { tor: { enabled: true, bridges: BRIDGES } } })
    expect(stateProblems(states, order)).toEqual([])
    const [bridges, network] = torStates(states)
    expect(bridges?.id).toBe('qubes-whonix-agent-tor-bridges')
    expect(bridges?.args.get('name')).toBe(
      `qvm-run --pass-io --no-gui --service sys-whonix whonix.Tor+bridges-set | grep -qF '"ok":true'`,
    )
    expect(bridges?.args.get('stdin')).toBe(`${BRIDGES.join('\n')}\n`)
    expect(String(bridges?.args.get('unless'))).toMatch(
      /^qvm-run --pass-io --no-gui --service sys-whonix whonix\.Tor\+status < \/dev\/null \| grep -qF '"digest":"[0-9a-f]{64}"'$/,
    )
    expect(network?.args.get('require')).toEqual([
      { qvm: 'qubes-whonix-agent-gateway' },
      { cmd: 'qubes-whonix-agent-tor-bridges' },
    ])
    const { system, first, second } = applied(states)
    expect(first.failures).toEqual([])
    expect(first.changes.filter((change) => change.includes('tor'))).toEqual([
      'qubes-whonix-agent-tor-bridges: ran',
      'qubes-whonix-agent-tor-network: ran',
    ])
    expect(system.tor.get('sys-whonix')).toEqual({ enabled: true, bridges: BRIDGES })
    expect(second).toEqual({ changes: [], failures: [] })
  })

  it('enabled: false and bridges: [] disable and clear a gateway set otherwise, once', async () => {
    const { states } = await dom0({ 'qubes-whonix-agent': { tor: { enabled: false, bridges: [] } } })
    const system = emptySystem(COMMUNITY)
    apply(system, parseStates(states, []), readSource)
    system.tor.set('sys-whonix', { enabled: true, bridges: BRIDGES })
    const { first, second } = applied(states, system)
    expect(first.changes).toEqual(['qubes-whonix-agent-tor-bridges: ran', 'qubes-whonix-agent-tor-network: ran'])
    expect(system.tor.get('sys-whonix')).toEqual({ enabled: false, bridges: [] })
    expect(second.changes).toEqual([])
  })
})
