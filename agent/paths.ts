import { isAbsolute, join, resolve } from 'node:path'

/**
 * Every system path the agent touches comes from the manifest's `paths` table and goes
 * through `rootPaths`, so one `--root` prefix moves the whole agent into a sandbox.
 */
export type PathTable = Readonly<Record<string, string>>

export type RootedPaths<T extends PathTable> = { readonly [K in keyof T]: string } & {
  readonly root: string
  /** Re-root any other absolute system path the same way. */
  readonly under: (systemPath: string) => string
}

export function rootPath(root: string, systemPath: string): string {
  if (!isAbsolute(systemPath)) throw new TypeError(`not an absolute path: ${systemPath}`)
  return root === '/' ? systemPath : join(root, systemPath)
}

export function rootPaths<T extends PathTable>(table: T, root = '/'): RootedPaths<T> {
  const absoluteRoot = resolve(root)
  const rooted: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(table)) rooted[key] = rootPath(absoluteRoot, value)
  rooted.root = absoluteRoot
  rooted.under = (systemPath: string) => rootPath(absoluteRoot, systemPath)
  return rooted as RootedPaths<T>
}
