import { CodedError } from './errors'

/**
 * The service descriptor qrexec-agent writes first on a socket service's connection:
 * the text after `QUBESRPC `, then one NUL byte (docs/qubes-facts.md, socket services). Every form:
 *   `SERVICE dom0`, `SERVICE+ARG dom0`            dom0 calling this qube
 *   `SERVICE+ source`, `SERVICE+ARG source`       a qube calling this qube
 *   `SERVICE+ARG source name QUBE`, `... keyword adminvm`   a qube calling dom0
 */
export interface Descriptor {
  readonly service: string
  /** `null` for a bare `SERVICE` (no `+`), `''` for `SERVICE+`: QREXEC_SERVICE_ARGUMENT unset vs empty. */
  readonly argument: string | null
  /** The calling qube, `dom0` for dom0. */
  readonly source: string
  /** Only in the qube-to-dom0 form; `null` when the call named this qube directly. */
  readonly target: RequestedTarget | null
}

export interface RequestedTarget {
  readonly type: 'name' | 'keyword'
  readonly value: string
}

/** Bytes before the NUL. */
export const MAX_DESCRIPTOR_BYTES = 65000
export const MAX_SERVICE_NAME_BYTES = 255

// Policy character set (docs/qubes-facts.md); the service name itself has no `+`.
const SERVICE_NAME = /^[A-Za-z0-9._-]+$/
const ARGUMENT = /^[A-Za-z0-9+._-]*$/
// Qubes qube names: a letter first, at most 31 characters.
const QUBE_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,30}$/
const KEYWORD = /^[a-z][a-z0-9_-]{0,30}$/

// ignoreBOM keeps a leading byte order mark in the text (the default drops it): bytes are taken as they are.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** A bounded, printable rendering of untrusted text for error messages and logs. */
export function quoteUntrusted(untrusted: string, max = 64): string {
  const shown = JSON.stringify(untrusted.slice(0, max)).replace(/[^\x20-\x7e]/g, '?')
  return untrusted.length > max ? `${shown}...` : shown
}

const invalid = (message: string): never => {
  throw new CodedError('DESCRIPTOR_INVALID', `invalid service descriptor: ${message}`)
}

function qubeName(untrusted: string, what: string): string {
  return QUBE_NAME.test(untrusted) ? untrusted : invalid(`${what} ${quoteUntrusted(untrusted)} is not a qube name`)
}

/** Parses the descriptor text (the bytes before the NUL). Throws DESCRIPTOR_INVALID saying why. */
export function parseDescriptor(untrustedBytes: Uint8Array): Descriptor {
  if (untrustedBytes.length === 0) return invalid('empty')
  if (untrustedBytes.length > MAX_DESCRIPTOR_BYTES) return invalid(`longer than ${MAX_DESCRIPTOR_BYTES} bytes`)
  if (untrustedBytes[0] === 0xef && untrustedBytes[1] === 0xbb && untrustedBytes[2] === 0xbf)
    return invalid('starts with a UTF-8 byte order mark')
  let untrustedText: string
  try {
    untrustedText = utf8.decode(untrustedBytes)
  } catch {
    return invalid('not valid UTF-8')
  }
  if (untrustedText.includes('\0')) return invalid('contains a NUL byte')
  const words = untrustedText.split(' ')
  if (words.length !== 2 && words.length !== 4)
    return invalid(`expected 2 or 4 space-separated words, found ${words.length}`)
  const [untrustedCall = '', untrustedSource = '', untrustedType, untrustedTarget] = words
  const plus = untrustedCall.indexOf('+')
  const untrustedService = plus === -1 ? untrustedCall : untrustedCall.slice(0, plus)
  const untrustedArgument = plus === -1 ? null : untrustedCall.slice(plus + 1)
  if (untrustedService.length === 0) return invalid('empty service name')
  if (Buffer.byteLength(untrustedService) > MAX_SERVICE_NAME_BYTES)
    return invalid(`service name longer than ${MAX_SERVICE_NAME_BYTES} bytes`)
  if (!SERVICE_NAME.test(untrustedService))
    return invalid(`service name ${quoteUntrusted(untrustedService)} has characters outside A-Z a-z 0-9 . _ -`)
  if (untrustedArgument !== null && !ARGUMENT.test(untrustedArgument))
    return invalid(`argument ${quoteUntrusted(untrustedArgument)} has characters outside A-Z a-z 0-9 + . _ -`)
  const source = qubeName(untrustedSource, 'source')
  let target: RequestedTarget | null = null
  if (untrustedType !== undefined) {
    const value = untrustedTarget ?? ''
    if (untrustedType === 'name') target = { type: 'name', value: qubeName(value, 'target') }
    else if (untrustedType === 'keyword')
      target = {
        type: 'keyword',
        value: KEYWORD.test(value) ? value : invalid(`target keyword ${quoteUntrusted(value)} is not valid`),
      }
    else return invalid(`target type ${quoteUntrusted(untrustedType)} is neither name nor keyword`)
  }
  return { service: untrustedService, argument: untrustedArgument, source, target }
}

/** The descriptor text qrexec-agent would send (without the NUL). */
export function formatDescriptor(descriptor: Descriptor): string {
  const call = descriptor.argument === null ? descriptor.service : `${descriptor.service}+${descriptor.argument}`
  const target = descriptor.target === null ? '' : ` ${descriptor.target.type} ${descriptor.target.value}`
  return `${call} ${descriptor.source}${target}`
}

/**
 * The descriptor qrexec-agent sends for a call of `SERVICE[+ARG]` from `source`: dom0 does
 * not add `+` when it gave no argument; a qube's call always carries one.
 */
export function descriptorFor(serviceCall: string, source: string, target: RequestedTarget | null = null): Descriptor {
  const plus = serviceCall.indexOf('+')
  const service = plus === -1 ? serviceCall : serviceCall.slice(0, plus)
  const given = plus === -1 ? null : serviceCall.slice(plus + 1)
  const argument = given === null && source !== 'dom0' ? '' : given
  return { service, argument, source, target }
}
