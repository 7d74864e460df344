import { isCodedError } from '../rpc/errors'
import { runCli } from './cli'
import { FEATURES } from './features'
import { processIo } from './io'

// A known error is one line for the user; anything else is a bug and gets its stack.
function failed(error: unknown): void {
  if (isCodedError(error)) {
    process.stderr.write(`qubes-whonix-agent: ${error.message}\n`)
    process.exitCode = error.exitCode ?? 1
  } else {
    process.stderr.write(
      `qubes-whonix-agent: internal error (a bug; please report it)\n${(error as Error)?.stack ?? String(error)}\n`,
    )
    process.exitCode = 70
  }
}

// No top-level await: the bundle is a CommonJS function (scripts/build.mjs).
runCli(process.argv.slice(2), processIo, FEATURES).then((code) => void (process.exitCode = code), failed)
