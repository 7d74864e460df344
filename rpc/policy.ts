import { CodedError } from './errors'

/**
 * Qubes 4.2 policy lines (`/etc/qubes/policy.d/*.policy`): rendering from data, and a
 * validator that rejects what the real parser rejects, so a file we emit can never make
 * every qrexec call fail (a syntax error in any policy file does that).
 */
export type PolicyAction = 'allow' | 'ask' | 'deny'

export interface PolicyRule {
  readonly service: string
  /** `*` or `+ARG` (`+` alone: the empty argument). */
  readonly argument: string
  readonly source: string
  readonly target: string
  readonly action: PolicyAction
  /** Rendered in this order, each as one `key=value` word. */
  readonly params?: Readonly<Record<string, string>>
}

const NAME_CHARS = /^[A-Za-z0-9._-]+$/
const ARGUMENT = /^\+[A-Za-z0-9+._-]*$/
const QUBE = /^[A-Za-z][A-Za-z0-9_.-]{0,30}$/
const TAG = /^[A-Za-z0-9_.-]+$/
const TYPE = /^(AppVM|TemplateVM|DispVM|StandaloneVM|AdminVM)$/
const USER = /^[a-z_][a-z0-9_-]{0,31}$/

const PARAMS: Readonly<Record<PolicyAction, readonly string[]>> = {
  allow: ['target', 'user', 'notify', 'autostart'],
  ask: ['target', 'default_target', 'user', 'notify', 'autostart'],
  deny: ['notify'],
}

const invalid = (message: string): never => {
  throw new CodedError('POLICY_INVALID', message)
}

function sourceToken(token: string): boolean {
  if (token === '*' || token === '@anyvm' || token === '@adminvm') return true
  if (token.startsWith('@tag:')) return TAG.test(token.slice(5))
  if (token.startsWith('@type:')) return TYPE.test(token.slice(6))
  if (token.startsWith('@dispvm:@tag:')) return TAG.test(token.slice(13))
  if (token.startsWith('@dispvm:')) return QUBE.test(token.slice(8))
  return !token.startsWith('@') && QUBE.test(token)
}

const targetToken = (token: string): boolean => token === '@default' || token === '@dispvm' || sourceToken(token)

/** What `target=` and `default_target=` accept: one qube, never a group. */
function redirectToken(token: string): boolean {
  if (token === '@adminvm' || token === '@dispvm') return true
  if (token.startsWith('@dispvm:')) return !token.startsWith('@dispvm:@') && QUBE.test(token.slice(8))
  return !token.startsWith('@') && QUBE.test(token)
}

function checkParam(action: PolicyAction, word: string, seen: Set<string>): void {
  const equals = word.indexOf('=')
  if (equals <= 0) return invalid(`${JSON.stringify(word)} is not a key=value parameter`)
  const [key, value] = [word.slice(0, equals), word.slice(equals + 1)]
  if (value.includes(','))
    return invalid(`parameter ${JSON.stringify(word)} has a comma: parameters are separate words`)
  if (!PARAMS[action].includes(key))
    return invalid(`${action} takes no parameter ${JSON.stringify(key)} (only ${PARAMS[action].join(', ')})`)
  if (seen.has(key)) return invalid(`parameter ${key} given twice`)
  seen.add(key)
  if ((key === 'target' || key === 'default_target') && !redirectToken(value))
    return invalid(`${key}= takes a qube name, @adminvm, @dispvm or @dispvm:NAME, not ${JSON.stringify(value)}`)
  if ((key === 'notify' || key === 'autostart') && value !== 'yes' && value !== 'no')
    return invalid(`${key}= takes yes or no, not ${JSON.stringify(value)}`)
  if (key === 'user' && !USER.test(value)) return invalid(`user= ${JSON.stringify(value)} is not a user name`)
}

/** Checks one rule; throws POLICY_INVALID naming what the Qubes parser would refuse. */
export function checkPolicyRule(rule: PolicyRule): PolicyRule {
  const { service, argument, source, target, action } = rule
  if (service.includes('+'))
    invalid(`service ${JSON.stringify(service)}: no + in the service column (the argument is its own column)`)
  if (service !== '*' && !(NAME_CHARS.test(service) && service.length <= 255))
    invalid(`service ${JSON.stringify(service)} is not a service name`)
  if (argument !== '*' && !ARGUMENT.test(argument))
    invalid(`argument ${JSON.stringify(argument)} must be * or start with +`)
  if (service === '*' && argument !== '*') invalid('a * service takes only the * argument')
  if (!sourceToken(source)) invalid(`source ${JSON.stringify(source)} is not a qube name or a known @ token`)
  if (!targetToken(target)) invalid(`target ${JSON.stringify(target)} is not a qube name or a known @ token`)
  if (!(action in PARAMS)) invalid(`action ${JSON.stringify(action)} is not allow, ask or deny`)
  const seen = new Set<string>()
  for (const [key, value] of Object.entries(rule.params ?? {})) checkParam(action, `${key}=${value}`, seen)
  if (action === 'allow' && target === '@default' && !seen.has('target'))
    invalid('an allow rule for @default must name target=')
  return rule
}

export function renderPolicyRule(rule: PolicyRule): string {
  checkPolicyRule(rule)
  const params = Object.entries(rule.params ?? {}).map(([key, value]) => `${key}=${value}`)
  return [rule.service, rule.argument, rule.source, rule.target, rule.action, ...params].join(' ')
}

/** Parses one non-comment line into a rule, with the parser's rejections. */
export function parsePolicyLine(line: string): PolicyRule {
  const words = line.trim().split(/\s+/)
  if (words.length < 5)
    return invalid(`expected SERVICE ARGUMENT SOURCE TARGET ACTION [key=value...], found ${words.length} words`)
  const [service = '', argument = '', source = '', target = '', action = '', ...rest] = words
  if (!(action in PARAMS)) return invalid(`action ${JSON.stringify(action)} is not allow, ask or deny`)
  const params: Record<string, string> = {}
  const seen = new Set<string>()
  for (const word of rest) {
    checkParam(action as PolicyAction, word, seen)
    const equals = word.indexOf('=')
    params[word.slice(0, equals)] = word.slice(equals + 1)
  }
  return checkPolicyRule({ service, argument, source, target, action: action as PolicyAction, params })
}

export interface PolicyProblem {
  readonly line: number
  readonly message: string
}

const DIRECTIVE_WORDS: Readonly<Record<string, number>> = { '!include': 2, '!include-dir': 2, '!include-service': 4 }

/** Every problem of a policy file's text, by line; an empty list means the parser accepts it. */
export function validatePolicyFile(text: string): PolicyProblem[] {
  const problems: PolicyProblem[] = []
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/#.*$/, '').trim()
    if (line === '') return
    try {
      if (line.startsWith('!')) {
        const words = line.split(/\s+/)
        const expected = DIRECTIVE_WORDS[words[0] ?? '']
        if (expected === undefined) invalid(`unknown directive ${JSON.stringify(words[0])}`)
        else if (words.length !== expected) invalid(`${words[0]} takes ${expected - 1} argument(s)`)
        return
      }
      parsePolicyLine(line)
    } catch (error) {
      if (!(error instanceof CodedError)) throw error
      problems.push({ line: index + 1, message: error.message })
    }
  })
  return problems
}
