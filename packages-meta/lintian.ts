import type { GeneratedFile } from '../agent/generated/file'
import type { Manifest } from '../agent/manifest/schema'

// Lintian overrides of the agent package, each with the comment lintian shows beside it.

interface Override {
  readonly why: string
  readonly tag: string
}

export function lintianOverrides(manifest: Manifest, files: readonly GeneratedFile[]): string {
  const shipped = new Set(files.map((file) => file.path))
  const overrides: Override[] = [
    {
      why: 'Qubes OS runs systemd in every qube: the units are the only init integration, on purpose.',
      tag: 'package-supports-alternative-init-but-no-init.d-script *',
    },
  ]
  const errorPage = manifest.paths.tinyproxyErrorPage
  if (shipped.has(errorPage))
    overrides.push({
      why: "The updates proxy's error page is data tinyproxy serves (it carries the line the template's check looks for), not documentation.",
      tag: `package-contains-documentation-outside-usr-share-doc [${errorPage.slice(1)}]`,
    })
  return overrides.map((override) => `# ${override.why}\n${override.tag}\n`).join('\n')
}
