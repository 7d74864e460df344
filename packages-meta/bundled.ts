import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { copyrightLines, identifyLicense, type Bundled } from './copyright'

// The npm packages inside the bundle, described from their own package.json and licence file.

interface PackageJson {
  readonly name: string
  readonly version: string
  readonly license?: string | { readonly type: string }
  readonly licenses?: readonly (string | { readonly type: string })[]
  readonly author?: string | { readonly name: string; readonly email?: string }
}

const LICENSE_FILE = /^(licen[cs]e|copying)([-._].*)?$/i

const typeOf = (entry: string | { readonly type: string }) => (typeof entry === 'string' ? entry : entry.type)

/** The SPDX expression package.json declares, in any of the spellings npm has known. */
export function declaredLicense(pkg: Pick<PackageJson, 'license' | 'licenses'>): string | undefined {
  if (pkg.license) return typeOf(pkg.license)
  if (pkg.licenses && pkg.licenses.length > 0) return pkg.licenses.map(typeOf).join(' OR ')
  return undefined
}

const authorText = (author: PackageJson['author']) =>
  typeof author === 'string' ? author : author ? `${author.name}${author.email ? ` <${author.email}>` : ''}` : undefined

interface Metafile {
  readonly outputs: Readonly<
    Record<string, { readonly inputs: Readonly<Record<string, { readonly bytesInOutput: number }>> }>
  >
}

/** The npm package directories (node_modules/x, or nested deeper) that left code in the bundle. */
export function bundledPackageDirs(metafile: Metafile): string[] {
  const dirs = new Set<string>()
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      // Greedy: the innermost package of a nested node_modules path.
      const found = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)
      if (found && bytesInOutput > 0) dirs.add(found[1]!)
    }
  }
  return [...dirs].sort()
}

/** `dirs`: package directories relative to `root`, as esbuild's metafile names them (node_modules/x). */
export async function describeBundled(root: string, dirs: readonly string[]): Promise<Bundled[]> {
  const described = await Promise.all(
    dirs.map(async (dir) => {
      const pkg = JSON.parse(await readFile(join(root, dir, 'package.json'), 'utf8')) as PackageJson
      const licenseFile = (await readdir(join(root, dir))).sort().find((name) => LICENSE_FILE.test(name))
      if (licenseFile === undefined) throw new Error(`${dir}: no licence file`)
      const licenseText = await readFile(join(root, dir, licenseFile), 'utf8')
      const license = declaredLicense(pkg) ?? identifyLicense(licenseText)
      return {
        dirs: [dir],
        name: pkg.name,
        version: pkg.version,
        license,
        copyright: copyrightLines(licenseText, authorText(pkg.author)),
        licenseText,
      }
    }),
  )
  // One entry per name and version, however many copies npm nested.
  const merged = new Map<string, Bundled>()
  for (const pkg of described) {
    const key = `${pkg.name}@${pkg.version}`
    const seen = merged.get(key)
    merged.set(key, seen ? { ...seen, dirs: [...seen.dirs, ...pkg.dirs] } : pkg)
  }
  return [...merged.values()]
}
