import type { MemoryReleaseStatus } from './memory-release'
import type { PartState } from './parts'

/** The daemon's part of `status` / `whonix.Status`. */
export type DaemonStatus =
  | { readonly running: false; readonly reason: string }
  /** There (its socket accepts), but it did not answer: every slot of the socket was taken, or it was slow. */
  | { readonly running: true; readonly busy: true; readonly reason: string }
  | {
      readonly running: true
      readonly busy?: undefined
      readonly pid: number
      readonly since: string
      /** The services this daemon serves, sorted. */
      readonly services: readonly string[]
      readonly parts: Readonly<Record<string, PartState>>
      /** Memory given back after bursts (absent where the daemon was started without it, as in tests). */
      readonly memory?: MemoryReleaseStatus
    }
