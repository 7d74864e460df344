import { jsonHandler } from '../../rpc/json'
import type { HandlerFactory } from '../services/environment'

export const NTP_REFUSAL =
  'Whonix does not synchronise the clock over NTP: NTP is unauthenticated clearnet traffic that would reveal and skew this qube; sdwdate sets the time over Tor'

/** qubes.SyncNtpClock: does nothing, and says why. */
export const syncNtpClockService: HandlerFactory = () =>
  jsonHandler(() => ({ synchronised: false, reason: NTP_REFUSAL }))
