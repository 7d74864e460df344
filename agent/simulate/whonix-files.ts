import { writeLinkAtomic } from '../fs/entries'
import type { Manifest } from '../manifest/schema'
import { rootPath } from '../paths'
import { protectedFilesList } from '../protected-files/list-file'
import { writeSimulatedFile } from './write'

/**
 * Whonix's own configuration files in a simulated qube, as a fresh Whonix install ships
 * them (its fixed internal addresses, host name `host`, UTC), plus the protected-files
 * list this package installs: what replace-ips and protected-files check work on.
 */
type Flavour = 'gateway' | 'workstation'

function whonixFiles(manifest: Manifest, flavour: Flavour): Record<string, string> {
  const { gateway, gateway6 } = manifest.whonix.addresses
  const shared: Record<string, string> = {
    '/etc/hostname': 'host\n',
    '/etc/hosts':
      '127.0.0.1\tlocalhost\n127.0.1.1\thost.localdomain host\n\n# IPv6\n::1\tlocalhost ip6-localhost ip6-loopback\n',
    '/etc/timezone': 'Etc/UTC\n',
  }
  if (flavour === 'gateway')
    return {
      ...shared,
      '/etc/resolv.conf': '# Whonix-Gateway resolves through its own Tor DnsPort.\nnameserver 127.0.0.1\n',
      '/usr/share/whonix-gw-network-conf/network_internal_ip.txt': `${gateway}\n`,
      '/etc/tor/torrc':
        '# Whonix: the Tor configuration lives in the torrc.d directories.\n%include /etc/torrc.d/\n%include /usr/local/etc/torrc.d/\n',
      '/usr/local/etc/torrc.d/50_user.conf': `# Tor user configuration. Example (a comment, left as it is):\n#SocksPort ${gateway}:9200\n`,
      '/usr/share/tor/tor-service-defaults-torrc.anondist': [
        '## Whonix-Gateway: Tor listens on the internal interface.',
        `SocksPort ${gateway}:9050 IsolateDestAddr IsolateDestPort`,
        `SocksPort ${gateway}:9100`,
        `SocksPort [${gateway6}]:9050`,
        `TransPort ${gateway}:9040`,
        `DnsPort ${gateway}:5300`,
        `## The internal network: ${gateway.replace(/\.\d+$/, '.0')}/24 (the host .1 is not Whonix's).`,
        '',
      ].join('\n'),
    }
  return {
    ...shared,
    '/etc/resolv.conf': `# Whonix-Workstation resolves through the gateway.\nnameserver ${gateway}\n`,
    '/home/user/.xchat2/xchat.conf': `net_proxy_host = ${gateway}\nnet_proxy_port = 9119\n`,
    '/usr/share/anon-apps-config/kioslaverc': `[Proxy Settings]\nProxyType=1\nsocksProxy=socks://${gateway}:9122\n`,
  }
}

export async function writeWhonixFiles(root: string, manifest: Manifest, flavour: Flavour): Promise<void> {
  const files = { ...whonixFiles(manifest, flavour) }
  for (const file of protectedFilesList(manifest)) if (file.kind === 'file') files[file.path] = file.content
  for (const [path, content] of Object.entries(files)) await writeSimulatedFile(rootPath(root, path), content)
  await writeLinkAtomic(
    rootPath(root, '/etc/localtime'),
    `${manifest.protectedFiles.expected.zoneinfoDirectory}/Etc/UTC`,
    { directoryMode: 0o755 },
  )
}
