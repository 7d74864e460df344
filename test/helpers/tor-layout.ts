import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * The files tor@default reads on sys-whonix, under a simulated root: its defaults (kept off
 * the network: every connection goes to a SOCKS proxy on 127.0.0.1:1, where nothing
 * listens), its torrc including /usr/local/etc/torrc.d/*.conf, and the user's file there.
 * Shared by the Tor-settings tests and `bench/tor-control.ts`.
 */
export async function writeGatewayTorFiles(root: string, userConf: string): Promise<void> {
  const under = (path: string) => join(root, path)
  await mkdir(under('/var/lib/tor'), { recursive: true, mode: 0o700 })
  await mkdir(under('/run/tor'), { recursive: true, mode: 0o700 })
  for (const dir of ['/usr/local/etc/torrc.d', '/etc/tor', '/usr/share/tor'])
    await mkdir(under(dir), { recursive: true })
  const defaults = [
    `DataDirectory ${under('/var/lib/tor')}`,
    'DisableNetwork 1',
    'SocksPort 0',
    `ControlSocket ${under('/run/tor/control')}`,
    'CookieAuthentication 1',
    `CookieAuthFile ${under('/run/tor/control.authcookie')}`,
    'Socks5Proxy 127.0.0.1:1',
    'GeoIPFile ""',
    'GeoIPv6File ""',
    'Log notice stdout',
    '',
  ]
  await writeFile(under('/usr/share/tor/tor-service-defaults-torrc'), defaults.join('\n'))
  await writeFile(under('/etc/tor/torrc'), `%include ${under('/usr/local/etc/torrc.d')}/*.conf\n`)
  await writeFile(under('/usr/local/etc/torrc.d/50_user.conf'), userConf)
}
