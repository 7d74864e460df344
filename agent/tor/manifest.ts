import { absolutePath, integer, object } from '../manifest/check'
import { controlAddress } from './address'

// The `tor:` section: how the agent reaches Tor's control interface.

export const torSection = object({
  control: controlAddress,
  cookieFile: absolutePath,
  timeoutMs: integer(10, 60_000),
  maxReplyBytes: integer(1024, 16 * 1024 * 1024),
})
