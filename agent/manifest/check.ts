import { isIPv4, isIPv6 } from '../net/ip'

/**
 * Small checkers that turn untrusted parsed YAML into typed values. Each throws a
 * ManifestIssue naming the path of the offending value, which load.ts maps to a line.
 */
export type KeyPath = readonly (string | number)[]

export class ManifestIssue extends Error {
  constructor(
    readonly at: KeyPath,
    message: string,
  ) {
    super(message)
  }
}

export type Checker<T> = (untrusted: unknown, at: KeyPath) => T
export type Checked<C> = C extends Checker<infer T> ? T : never

const fail = (at: KeyPath, message: string): never => {
  throw new ManifestIssue(at, message)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  return typeof value === 'object' ? 'a mapping' : `${typeof value} ${JSON.stringify(value)}`
}

export interface StringRule {
  pattern?: RegExp
  maxLength?: number
}

export const string =
  (rule: StringRule = {}): Checker<string> =>
  (untrusted, at) => {
    if (typeof untrusted !== 'string') return fail(at, `expected a string, found ${describe(untrusted)}`)
    if (untrusted.length === 0) return fail(at, 'must not be empty')
    if (rule.maxLength !== undefined && untrusted.length > rule.maxLength)
      return fail(at, `longer than ${rule.maxLength} characters`)
    if (rule.pattern && !rule.pattern.test(untrusted))
      return fail(at, `${JSON.stringify(untrusted)} does not match ${rule.pattern}`)
    return untrusted
  }

/** An absolute, normalised system path: no `..`, no `//`, no trailing slash, no control characters. */
export const absolutePath: Checker<string> = (untrusted, at) => {
  const value = string({ maxLength: 4096 })(untrusted, at)
  if (!value.startsWith('/')) return fail(at, `${JSON.stringify(value)} is not an absolute path`)
  // eslint-disable-next-line no-control-regex
  if (/[\0-\x1f\x7f]/.test(value)) return fail(at, 'contains a control character')
  if (value !== '/' && (value.endsWith('/') || value.includes('//') || /(^|\/)\.\.?(\/|$)/.test(value)))
    return fail(at, `${JSON.stringify(value)} is not a normalised path`)
  return value
}

/** A single file name: no slash, not `.` or `..`. */
export const fileName: Checker<string> = string({ pattern: /^(?!\.\.?$)[^/\0]+$/, maxLength: 255 })

export const integer =
  (min: number, max: number): Checker<number> =>
  (untrusted, at) => {
    if (typeof untrusted !== 'number' || !Number.isInteger(untrusted))
      return fail(at, `expected a whole number, found ${describe(untrusted)}`)
    if (untrusted < min || untrusted > max) return fail(at, `${untrusted} is outside ${min}..${max}`)
    return untrusted
  }

export const boolean: Checker<boolean> = (untrusted, at) =>
  typeof untrusted === 'boolean' ? untrusted : fail(at, `expected true or false, found ${describe(untrusted)}`)

export const oneOf =
  <const T extends string>(choices: readonly T[]): Checker<T> =>
  (untrusted, at) =>
    typeof untrusted === 'string' && (choices as readonly string[]).includes(untrusted)
      ? (untrusted as T)
      : fail(at, `expected one of ${choices.join(', ')}, found ${describe(untrusted)}`)

export const list =
  <T>(item: Checker<T>, rule: { min?: number; unique?: boolean } = {}): Checker<T[]> =>
  (untrusted, at) => {
    if (!Array.isArray(untrusted)) return fail(at, `expected a list, found ${describe(untrusted)}`)
    if (rule.min !== undefined && untrusted.length < rule.min) return fail(at, `needs at least ${rule.min} entries`)
    const items = untrusted.map((entry, index) => item(entry, [...at, index]))
    if (rule.unique) {
      const seen = new Set<string>()
      items.forEach((entry, index) => {
        const key = JSON.stringify(entry)
        if (seen.has(key)) fail([...at, index], `duplicate entry ${key}`)
        seen.add(key)
      })
    }
    return items
  }

function asMapping(untrusted: unknown, at: KeyPath): Record<string, unknown> {
  if (typeof untrusted !== 'object' || untrusted === null || Array.isArray(untrusted))
    return fail(at, `expected a mapping, found ${describe(untrusted)}`)
  return untrusted as Record<string, unknown>
}

/** A mapping whose keys are free (validated by `key`) and whose values all have one shape. */
export const record =
  <T>(value: Checker<T>, key: Checker<string> = string()): Checker<Record<string, T>> =>
  (untrusted, at) => {
    const mapping = asMapping(untrusted, at)
    const result: Record<string, T> = {}
    for (const [name, entry] of Object.entries(mapping)) result[key(name, [...at, name])] = value(entry, [...at, name])
    return result
  }

type Shape = Record<string, Checker<unknown>>
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends Optional<unknown> ? K : never }[keyof S]
type Object_<S extends Shape> = { [K in Exclude<keyof S, OptionalKeys<S>>]: Checked<S[K]> } & {
  [K in OptionalKeys<S>]?: Checked<S[K]>
}

export type Optional<T> = Checker<T> & { readonly optional: true }

export const optional = <T>(checker: Checker<T>): Optional<T> =>
  Object.assign((untrusted: unknown, at: KeyPath) => checker(untrusted, at), { optional: true as const })

/** A mapping with exactly these keys; unknown keys are errors (they are usually typos). */
export const object =
  <S extends Shape>(shape: S): Checker<Object_<S>> =>
  (untrusted, at) => {
    const mapping = asMapping(untrusted, at)
    for (const name of Object.keys(mapping)) {
      if (!(name in shape))
        fail([...at, name], `unknown key ${JSON.stringify(name)} (expected ${Object.keys(shape).join(', ')})`)
    }
    const result: Record<string, unknown> = {}
    for (const [name, checker] of Object.entries(shape)) {
      if (mapping[name] === undefined) {
        if ('optional' in checker) continue
        fail(at, `missing key ${JSON.stringify(name)}`)
      }
      result[name] = checker(mapping[name], [...at, name])
    }
    return result as Object_<S>
  }

/** An IP address of the given family, in the canonical text form qubesdb and Whonix use. */
export const ipAddress =
  (family: 4 | 6): Checker<string> =>
  (untrusted, at) => {
    const value = string({ maxLength: 45 })(untrusted, at)
    return (family === 4 ? isIPv4(value) : isIPv6(value))
      ? value
      : fail(at, `${JSON.stringify(value)} is not an IPv${family} address`)
  }

export const literal =
  <const T extends string | number>(expected: T): Checker<T> =>
  (untrusted, at) =>
    untrusted === expected ? expected : fail(at, `expected ${JSON.stringify(expected)}, found ${describe(untrusted)}`)
