import type { PartState } from './parts'

/** The daemon's part of `status` / `whonix.Status`. */
export type DaemonStatus =
  | { readonly running: false; readonly reason: string }
  | {
      readonly running: true
      readonly pid: number
      readonly since: string
      /** The services this daemon serves, sorted. */
      readonly services: readonly string[]
      readonly parts: Readonly<Record<string, PartState>>
    }
