import type { Manifest } from '../manifest/schema'

/**
 * A file the agent's package installs, generated from the manifest: systemd units,
 * tmpfiles.d, uwt drop-in, APT hook, qrexec links, policy... Packaging (packages-meta/)
 * and Salt (salt/) both take these, so every installed file has one source.
 */
export type GeneratedFile =
  | {
      readonly path: string
      readonly kind: 'file'
      readonly mode: number
      readonly content: string
      readonly purpose: string
    }
  | { readonly path: string; readonly kind: 'symlink'; readonly target: string; readonly purpose: string }

/** Each feature contributes one generator (a pure function of the manifest). */
export type FileGenerator = (manifest: Manifest) => readonly GeneratedFile[]

export const textFile = (path: string, content: string, purpose: string, mode = 0o644): GeneratedFile => ({
  path,
  kind: 'file',
  mode,
  content,
  purpose,
})
export const symlink = (path: string, target: string, purpose: string): GeneratedFile => ({
  path,
  kind: 'symlink',
  target,
  purpose,
})
