import { isIPv4, isIPv6 } from '../net/ip'
import { join } from 'node:path'
import { errorMessage } from '../../rpc/errors'
import type { AgentContext } from '../context'
import { readFileThrough } from '../fs/resolve'

/**
 * The address last written into Whonix's files, kept in a file of its own under the
 * cache directory (upstream's format: the bare address, a trailing newline tolerated).
 */
export type SavedAddress =
  | { readonly state: 'present'; readonly address: string }
  | { readonly state: 'absent' }
  | { readonly state: 'invalid'; readonly reason: string }

const MAX_SAVED_BYTES = 64

export function savedAddressPath(context: AgentContext, fileName: string): string {
  return context.paths.under(join(context.manifest.replaceIps.cacheDirectory, fileName))
}

export async function readSavedAddress(context: AgentContext, fileName: string, family: 4 | 6): Promise<SavedAddress> {
  let read
  try {
    read = await readFileThrough(savedAddressPath(context, fileName), {
      root: context.paths.root,
      maxBytes: MAX_SAVED_BYTES,
    })
  } catch (error) {
    return { state: 'invalid', reason: errorMessage(error) }
  }
  if (read === null) return { state: 'absent' }
  const untrustedText = read.content.toString('latin1').replace(/\s+$/, '')
  const valid = family === 4 ? isIPv4(untrustedText) : isIPv6(untrustedText)
  return valid
    ? { state: 'present', address: untrustedText }
    : { state: 'invalid', reason: `${JSON.stringify(untrustedText.slice(0, 48))} is not an IPv${family} address` }
}

export const familyOf = (address: string): 4 | 6 => (address.includes(':') ? 6 : 4)

/** At most this many earlier addresses are kept (the most recent first). */
export const MAX_EARLIER = 8

/**
 * Beside the saved address: the addresses written before it that a file which could not
 * be rewritten may still hold (one a line), so that file converges once it can be written.
 */
export const earlierFileName = (fileName: string): string => `${fileName}.earlier`

export async function readEarlierAddresses(
  context: AgentContext,
  fileName: string,
  family: 4 | 6,
): Promise<{ readonly addresses: readonly string[]; readonly problem?: string }> {
  let read
  try {
    read = await readFileThrough(savedAddressPath(context, earlierFileName(fileName)), {
      root: context.paths.root,
      maxBytes: MAX_EARLIER * 48,
    })
  } catch (error) {
    return { addresses: [], problem: errorMessage(error) }
  }
  if (read === null) return { addresses: [] }
  const untrustedLines = read.content
    .toString('latin1')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
  const addresses = untrustedLines.filter((line) => (family === 4 ? isIPv4(line) : isIPv6(line)))
  const problem =
    addresses.length < untrustedLines.length
      ? `${untrustedLines.length - addresses.length} lines that are not IPv${family} addresses ignored`
      : undefined
  return { addresses: [...new Set(addresses)].slice(0, MAX_EARLIER), ...(problem ? { problem } : {}) }
}
