import { QUBES_LABELS, QVM_PREFS } from './salt-functions'
import { pairs, type ParsedState } from './validate'
import { runShell, type GatewayTor } from './tor-model'

/**
 * A minimal model of what the formula's states act on (qubes and their properties,
 * features and tags, files, packages), applying each state the way its Salt or qvm module
 * function decides: compare the wanted value with the current one, change only what
 * differs, refuse what qubesd refuses. Used to check that a second run changes nothing.
 */
export interface Qube {
  readonly klass: 'TemplateVM' | 'AppVM'
  /** Properties set explicitly; an absent one reads as '*default*', as the module sees it. */
  readonly prefs: Map<string, unknown>
  readonly features: Map<string, string>
  readonly tags: Set<string>
}

export interface System {
  readonly qubes: Map<string, Qube>
  /** Templates qvm-template can install: repository → names. */
  readonly repositories: Map<string, Set<string>>
  readonly files: Map<string, { content: string; mode: string; user: string; group: string }>
  readonly packages: Set<string>
  /** Tor's settings in each qube that serves whonix.Tor (a Whonix-Gateway created by the formula). */
  readonly tor: Map<string, GatewayTor>
}

export interface Outcome {
  readonly changes: string[]
  readonly failures: string[]
}

export const emptySystem = (repositories: Record<string, string[]> = {}): System => ({
  qubes: new Map([
    [
      'sys-firewall',
      {
        klass: 'AppVM',
        prefs: new Map<string, unknown>([['provides_network', true]]),
        features: new Map(),
        tags: new Set(),
      },
    ],
  ]),
  repositories: new Map(Object.entries(repositories).map(([repo, names]) => [repo, new Set(names)])),
  files: new Map(),
  packages: new Set(),
  tor: new Map(),
})

// The order qvm.vm runs its actions in when the state gives no `actions`.
const QVM_VM_ORDER = [
  'exists',
  'running',
  'missing',
  'halted',
  'absent',
  'present',
  'clone',
  'prefs',
  'devices',
  'service',
  'features',
  'firewall',
  'tags',
]
const FEATURE_VALUES: Record<string, string | null> = { enable: '1', disable: '', default: null }

class Refused extends Error {}

function qube(system: System, name: unknown): Qube {
  const found = system.qubes.get(String(name))
  if (!found) throw new Refused(`no qube ${String(name)}`)
  return found
}

function create(system: System, name: string, options: ReadonlyMap<string, unknown>, out: Outcome): void {
  if (system.qubes.has(name)) return
  const template = qube(system, options.get('template'))
  if (template.klass !== 'TemplateVM') throw new Refused(`${String(options.get('template'))} is not a template`)
  if (!QUBES_LABELS.includes(String(options.get('label')))) throw new Refused(`label ${String(options.get('label'))}`)
  const prefs = new Map<string, unknown>([
    ['template', options.get('template')],
    ['label', options.get('label')],
  ])
  if (options.has('mem')) prefs.set('memory', Number(options.get('mem')))
  system.qubes.set(name, { klass: 'AppVM', prefs, features: new Map(), tags: new Set() })
  // A qube of a Whonix-Gateway template runs the agent, and Tor as Whonix ships it.
  if (template.features.get('whonix-gw') === '1') system.tor.set(name, { enabled: false, bridges: [] })
  out.changes.push(`${name}: created`)
}

// The module walks its argparse property group in definition order, not the state's order.
function setPrefs(system: System, name: string, options: ReadonlyMap<string, unknown>, out: Outcome): void {
  const target = qube(system, name)
  for (const key of QVM_PREFS.filter((candidate) => options.has(candidate))) {
    const property = key.replaceAll('-', '_').replace('dispvm_allowed', 'template_for_dispvms')
    const wanted = options.get(key)
    const current = target.prefs.has(property) ? target.prefs.get(property) : '*default*'
    if (current === wanted) continue
    if (property === 'netvm' && wanted !== '' && qube(system, wanted).prefs.get('provides_network') !== true)
      throw new Refused(`${String(wanted)} provides no network`)
    if (property === 'default_dispvm' && qube(system, wanted).prefs.get('template_for_dispvms') !== true)
      throw new Refused(`${String(wanted)} is not a disposable template`)
    if (property === 'label' && !QUBES_LABELS.includes(String(wanted))) throw new Refused(`label ${String(wanted)}`)
    target.prefs.set(property, wanted)
    out.changes.push(`${name}: ${property} ${String(current)} -> ${String(wanted)}`)
  }
}

function setNamed(
  target: Qube,
  name: string,
  action: string,
  options: ReadonlyMap<string, unknown>,
  out: Outcome,
): void {
  for (const [verb, value] of options) {
    if (!['add', 'present', 'del', 'absent', 'enable', 'disable', 'default'].includes(verb)) continue
    for (const item of Array.isArray(value) ? value.map(String) : []) {
      if (action === 'tags') {
        const present = target.tags.has(item)
        if (verb === 'add' || verb === 'present') target.tags.add(item)
        else target.tags.delete(item)
        if (present !== target.tags.has(item)) out.changes.push(`${name}: tag ${item} ${verb}`)
        continue
      }
      const feature = action === 'service' ? `service.${item}` : item
      const wanted = FEATURE_VALUES[verb]
      if (wanted === undefined || (target.features.get(feature) ?? null) === wanted) continue
      if (wanted === null) target.features.delete(feature)
      else target.features.set(feature, wanted)
      out.changes.push(`${name}: ${feature} = ${String(wanted)}`)
    }
  }
}

function qvmAction(
  system: System,
  name: string,
  action: string,
  options: ReadonlyMap<string, unknown>,
  out: Outcome,
): void {
  if (action === 'present') create(system, name, options, out)
  else if (action === 'prefs') setPrefs(system, name, options, out)
  else if (action === 'service' || action === 'features' || action === 'tags')
    setNamed(qube(system, name), name, action, options, out)
  else throw new Refused(`the model does not apply ${action}`)
}

const optionsOf = (value: unknown) => new Map(pairs(value) ?? [])

function applyOne(system: System, state: ParsedState, readSource: (url: string) => string, out: Outcome): void {
  const named = state.args.get('name')
  const name = typeof named === 'string' || typeof named === 'number' ? String(named) : state.id
  const [module, fn] = state.fun.split('.')
  if (state.fun === 'qvm.vm') {
    for (const action of QVM_VM_ORDER)
      if (state.args.has(action)) qvmAction(system, name, action, optionsOf(state.args.get(action)), out)
  } else if (module === 'qvm' && fn && ['present', 'prefs', 'service', 'features', 'tags'].includes(fn)) {
    qvmAction(system, name, fn, state.args, out)
  } else if (state.fun === 'qvm.template_installed') {
    if (system.qubes.has(name)) return
    if (!system.repositories.get(String(state.args.get('fromrepo')))?.has(name))
      throw new Refused(`no template ${name} in ${String(state.args.get('fromrepo'))}`)
    system.qubes.set(name, {
      klass: 'TemplateVM',
      prefs: new Map<string, unknown>([['label', 'black']]),
      features: new Map(),
      tags: new Set(),
    })
    out.changes.push(`${name}: template installed`)
  } else if (state.fun === 'file.managed') {
    const wanted = {
      content: readSource(String(state.args.get('source'))),
      mode: String(state.args.get('mode')),
      user: String(state.args.get('user')),
      group: String(state.args.get('group')),
    }
    if (JSON.stringify(system.files.get(name)) === JSON.stringify(wanted)) return
    system.files.set(name, wanted)
    out.changes.push(`${name}: file written`)
  } else if (state.fun === 'pkg.installed') {
    if (system.packages.has(name)) return
    system.packages.add(name)
    out.changes.push(`${name}: package installed`)
  } else if (state.fun === 'cmd.run') {
    const unless = state.args.get('unless')
    if (
      unless !== undefined &&
      runShell(system.tor, typeof unless === 'string' ? unless : JSON.stringify(unless)).exitCode === 0
    )
      return
    const result = runShell(system.tor, name, String((state.args.get('stdin') as string | undefined) ?? ''))
    if (result.exitCode !== 0) throw new Refused(`${name} failed`)
    out.changes.push(`${state.id}: ran`)
  } else if (state.fun === 'test.fail_without_changes') {
    throw new Refused(name)
  } else {
    throw new Refused(`the model does not apply ${state.fun}`)
  }
}

/** Applies states as Salt orders them: definition order, each after what it requires. */
export function apply(system: System, states: readonly ParsedState[], readSource: (url: string) => string): Outcome {
  const out: Outcome = { changes: [], failures: [] }
  const results = new Map<string, boolean>()
  const run = (state: ParsedState): boolean => {
    const known = results.get(state.id)
    if (known !== undefined) return known
    results.set(state.id, false)
    const required = (pairs(state.args.get('require')) ?? []).map(([module, target]) =>
      states.find(
        (other) => other.fun.startsWith(`${module}.`) && (other.id === target || other.args.get('name') === target),
      ),
    )
    let ok = required.every((other) => other !== undefined && run(other))
    if (!ok) out.failures.push(`${state.id}: a requisite failed`)
    else {
      try {
        applyOne(system, state, readSource, out)
      } catch (error) {
        if (!(error instanceof Refused)) throw error
        ok = false
        out.failures.push(`${state.id}: ${error.message}`)
      }
    }
    results.set(state.id, ok)
    return ok
  }
  for (const state of states) run(state)
  return out
}
