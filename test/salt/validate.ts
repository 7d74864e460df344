import type { CompiledState } from './harness'
import {
  GLOBAL_ARGUMENTS,
  QUBES_LABELS,
  QVM_PREF_TYPES,
  QVM_VM_ACTIONS,
  REQUISITES,
  STATE_FUNCTIONS,
} from './salt-functions'

/** A state reduced to what Salt reads from it: its function and its arguments in order. */
export interface ParsedState {
  readonly sls: string
  readonly id: string
  readonly fun: string
  readonly args: ReadonlyMap<string, unknown>
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** A list of single-key mappings (Salt's argument lists) as [key, value] pairs; null if it is not one. */
export function pairs(value: unknown): [string, unknown][] | null {
  if (!Array.isArray(value)) return null
  const out: [string, unknown][] = []
  for (const item of value) {
    if (!isRecord(item) || Object.keys(item).length !== 1) return null
    const [entry] = Object.entries(item)
    if (entry) out.push(entry)
  }
  return out
}

/** Parses every state; a malformed one is a problem, as it is a render error for Salt. */
export function parseStates(states: readonly CompiledState[], problems: string[]): ParsedState[] {
  const parsed: ParsedState[] = []
  for (const state of states) {
    const where = `${state.sls}: ${state.id}`
    if (!isRecord(state.body)) {
      problems.push(`${where}: not a mapping`)
      continue
    }
    const entries = Object.entries(state.body)
    const [first] = entries
    if (entries.length !== 1 || !first || !/^[a-z_]+\.[a-z_]+$/.test(first[0])) {
      problems.push(`${where}: wants exactly one 'module.function' key, has ${Object.keys(state.body).join(', ')}`)
      continue
    }
    const args = pairs(first[1])
    if (!args) {
      problems.push(`${where}: the arguments of ${first[0]} are not a list of single-key mappings`)
      continue
    }
    const map = new Map<string, unknown>()
    for (const [key, value] of args) {
      if (map.has(key)) problems.push(`${where}: argument ${key} given twice`)
      map.set(key, value)
    }
    parsed.push({ sls: state.sls, id: state.id, fun: first[0], args: map })
  }
  return parsed
}

// qubes-core-admin's rule for qube names, plus its length limit and the reserved suffix.
export const isQubeName = (value: unknown): value is string =>
  typeof value === 'string' &&
  /^[a-zA-Z][a-zA-Z0-9_.-]*$/.test(value) &&
  value.length <= 31 &&
  !value.endsWith('-dm') &&
  value !== 'none'

const QUBES_SERVICE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/

function checkPrefs(where: string, options: [string, unknown][], problems: string[]): void {
  for (const [key, value] of options) {
    const type = QVM_PREF_TYPES[key.replaceAll('_', '-')]
    const ok =
      type === undefined
        ? true
        : type === 'boolean'
          ? typeof value === 'boolean'
          : type === 'integer'
            ? Number.isInteger(value)
            : type === 'qube'
              ? isQubeName(value) || value === '' || value === 'none'
              : type === 'label'
                ? QUBES_LABELS.includes(value as string)
                : typeof value === 'string'
    if (!ok) problems.push(`${where}: prefs ${key}: ${JSON.stringify(value)} is not a ${type}`)
  }
}

function checkNameLists(where: string, action: string, options: [string, unknown][], problems: string[]): void {
  for (const [key, value] of options) {
    if (key === 'list' || key === 'set') continue
    const names = Array.isArray(value) ? value : []
    if (!Array.isArray(value) || names.length === 0)
      problems.push(`${where}: ${action} ${key} wants a non-empty list of names`)
    for (const name of names) {
      const ok =
        typeof name === 'string' &&
        (action === 'service' ? QUBES_SERVICE_NAME.test(name) : /^[A-Za-z0-9_.-]+$/.test(name))
      if (!ok) problems.push(`${where}: ${action} ${key}: ${JSON.stringify(name)} is not a valid name`)
    }
  }
}

/** The options of one qvm action (qvm.vm's `prefs:` list, or the args of qvm.prefs). */
export function checkQvmAction(where: string, action: string, options: [string, unknown][], problems: string[]): void {
  const allowed = QVM_VM_ACTIONS[action] ?? []
  for (const [key] of options) if (!allowed.includes(key)) problems.push(`${where}: ${action} takes no option ${key}`)
  if (action === 'prefs') checkPrefs(where, options, problems)
  if (action === 'present') {
    const template = options.find(([key]) => key === 'template')
    if (template && !isQubeName(template[1]))
      problems.push(`${where}: present template ${JSON.stringify(template[1])} is not a qube name`)
    checkPrefs(
      where,
      options.filter(([key]) => key === 'label'),
      problems,
    )
  }
  if (action === 'service' || action === 'features' || action === 'tags')
    checkNameLists(where, action, options, problems)
}

function checkRequisites(
  state: ParsedState,
  all: readonly ParsedState[],
  slsOrder: readonly string[],
  problems: string[],
): void {
  for (const requisite of REQUISITES) {
    if (!state.args.has(requisite)) continue
    const targets = pairs(state.args.get(requisite))
    if (!targets) {
      problems.push(`${state.sls}: ${state.id}: ${requisite} is not a list of 'module: ID' mappings`)
      continue
    }
    for (const [module, target] of targets) {
      const found =
        module === 'sls'
          ? slsOrder.includes(String(target))
          : all.some(
              (other) =>
                other.fun.split('.')[0] === module && (other.id === target || other.args.get('name') === target),
            )
      if (!found) problems.push(`${state.sls}: ${state.id}: ${requisite} ${module}: ${String(target)} matches no state`)
    }
  }
}

// State functions of the qvm module that are one qvm.vm action on their own.
const STANDALONE_QVM: Record<string, string> = {
  'qvm.present': 'present',
  'qvm.prefs': 'prefs',
  'qvm.service': 'service',
  'qvm.features': 'features',
  'qvm.tags': 'tags',
}

/** Everything Salt or the qvm module would refuse in a compiled highstate. */
export function stateProblems(states: readonly CompiledState[], slsOrder: readonly string[]): string[] {
  const problems: string[] = []
  const seen = new Map<string, string>()
  for (const state of states) {
    const other = seen.get(state.id)
    if (other !== undefined) problems.push(`conflicting ID ${state.id} in ${other} and ${state.sls}`)
    seen.set(state.id, state.sls)
  }
  const parsed = parseStates(states, problems)
  for (const state of parsed) {
    const where = `${state.sls}: ${state.id}`
    const own = STATE_FUNCTIONS[state.fun]
    if (!own) {
      problems.push(
        `${where}: ${state.fun} is not a state function Salt or the qvm module provides (as far as this test knows)`,
      )
      continue
    }
    for (const key of state.args.keys())
      if (!own.includes(key) && !GLOBAL_ARGUMENTS.includes(key) && !(REQUISITES as readonly string[]).includes(key))
        problems.push(`${where}: ${state.fun} takes no argument ${key}`)
    if (state.fun.startsWith('qvm.') && !isQubeName(state.args.get('name') ?? state.id))
      problems.push(`${where}: name is not a qube name`)
    const standalone = STANDALONE_QVM[state.fun]
    if (standalone) {
      const options = [...state.args].filter(
        ([key]) => !GLOBAL_ARGUMENTS.includes(key) && !(REQUISITES as readonly string[]).includes(key),
      )
      checkQvmAction(where, standalone, options, problems)
    }
    if (state.fun === 'qvm.vm') {
      for (const [action, value] of state.args) {
        if (!(action in QVM_VM_ACTIONS)) continue
        const options = pairs(value)
        if (options) checkQvmAction(where, action, options, problems)
        else problems.push(`${where}: ${action} is not a list of single-key mappings`)
      }
    }
    checkRequisites(state, parsed, slsOrder, problems)
  }
  return problems
}
