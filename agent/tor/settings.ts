import type { AgentContext } from '../context'
import { parseControlAddress, rerootControlAddress } from './address'
import type { TorControlSettings } from './client'

/** The manifest's `tor` section as the control client takes it, re-rooted like every path. */
export function torControlSettings(context: AgentContext): TorControlSettings {
  const { tor } = context.manifest
  const address = parseControlAddress(tor.control)
  // The manifest checker accepted it, so it parses.
  if (address === null) throw new TypeError(`unparsable Tor control address ${tor.control}`)
  return {
    address: rerootControlAddress(address, context.paths.under),
    cookieFile: context.paths.under(tor.cookieFile),
    timeoutMs: tor.timeoutMs,
    maxReplyBytes: tor.maxReplyBytes,
  }
}
