import { textFile, type GeneratedFile } from '../generated/file'
import type { Manifest } from '../manifest/schema'

/**
 * Tor Browser's environment in a Whonix-Workstation (docs/stacked-tor.md), sourced by login shells:
 * start no Tor of its own and talk to the gateway's Tor through the agent's Unix sockets.
 * Only workstations export it (the package is installed in gateways too).
 */
export function torBrowserEnvironment(manifest: Manifest): Record<string, string> {
  const { env } = manifest.stackedTor.torBrowser
  const sockets = manifest.stackedTor.unix.flatMap((entry) =>
    entry.exportAs === undefined ? [] : [[entry.exportAs, entry.path] as const],
  )
  return { ...env, ...Object.fromEntries(sockets) }
}

// Values are restricted by the manifest to characters that need no quoting; quoted anyway.
const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`

export function torBrowserProfile(manifest: Manifest): GeneratedFile[] {
  const exports = Object.entries(torBrowserEnvironment(manifest)).map(
    ([name, value]) => `  export ${name}=${quote(value)}`,
  )
  const content = [
    "# Tor Browser in a Whonix-Workstation: use the gateway's Tor through the sockets of",
    '# qubes-whonix-agent, never a Tor of its own (Tor over Tor).',
    '# Generated from qubes.yaml (stackedTor) by qubes-whonix-agent; changes here are lost.',
    `if [ -e ${quote(manifest.paths.workstationMarker)} ]; then`,
    ...exports,
    'fi',
    '',
  ].join('\n')
  return [
    textFile(
      manifest.stackedTor.torBrowser.profile,
      content,
      "Tor Browser's environment in a workstation: no Tor of its own, the gateway's through the agent's sockets",
    ),
  ]
}
