import type { ErrorCode } from './error-codes'

export type { ErrorCode } from './error-codes'

/**
 * The one error base class of the project. `code` is one of rpc/error-codes.ts, stable (tests,
 * JSON answers and scripts match on it); `message` is one short line for a person.
 */
export interface CodedErrorOptions {
  cause?: unknown
  /** The argument vector of a command that failed, when a command is at fault. */
  command?: readonly string[]
  /** The exit code the failing command returned, or the one the CLI should use. */
  exitCode?: number
}

export class CodedError extends Error {
  override readonly name: string = 'CodedError'
  readonly code: ErrorCode
  readonly command: readonly string[] | undefined
  readonly exitCode: number | undefined

  constructor(code: ErrorCode, message: string, options: CodedErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.command = options.command
    this.exitCode = options.exitCode
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message }
  }
}

export function isCodedError(value: unknown): value is CodedError {
  return value instanceof CodedError
}

/** The errno code (ENOENT, EEXIST...) of a failed system call; undefined when there is none. */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined
  return typeof error.code === 'string' ? error.code : undefined
}

/** A message fit for one line, whatever was thrown. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}

/** qrexec's own exit codes, as a caller of qrexec-client-vm sees them (docs/qubes-facts.md, qrexec). */
export const QREXEC_EXIT = { failure: 125, refused: 126, notFound: 127 } as const

/** The dom0 policy refused the call (exit 126). */
export class QrexecRefusedError extends CodedError {
  constructor(message: string, options: CodedErrorOptions = {}) {
    super('RPC_REFUSED', message, { exitCode: QREXEC_EXIT.refused, ...options })
  }
}

/** The target qube has no such service (exit 127). */
export class QrexecServiceNotFoundError extends CodedError {
  constructor(message: string, options: CodedErrorOptions = {}) {
    super('RPC_SERVICE_NOT_FOUND', message, { exitCode: QREXEC_EXIT.notFound, ...options })
  }
}

/** qrexec itself failed (exit 125: no such qube, could not start it, connection lost...). */
export class QrexecFailureError extends CodedError {
  constructor(message: string, options: CodedErrorOptions = {}) {
    super('RPC_QREXEC_FAILED', message, { exitCode: QREXEC_EXIT.failure, ...options })
  }
}
