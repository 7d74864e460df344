import { performance } from 'node:perf_hooks'

/**
 * Clocks for durations. The wall clock moves (sdwdate, qubes.SetDateTime): every deadline,
 * wait and elapsed time is measured on the monotonic clock, never on the wall clock.
 */

/** Monotonic milliseconds within this process. */
export const monotonicMs = (): number => performance.now()

/**
 * Milliseconds since boot on CLOCK_MONOTONIC (what process.hrtime reads on Linux): the same
 * clock in every process of this boot, so two processes can order their events by it.
 */
export const bootClockMs = (): number => Number(process.hrtime.bigint() / 1_000_000n)
