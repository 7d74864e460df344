import { chmod, mkdir, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { createContext, type AgentContext } from '../../../agent/context'
import { loadManifest } from '../../../agent/features'
import { spawnLogged, type LoggedProcess } from '../../helpers/process'
import { writeGatewayTorFiles } from '../../helpers/tor-layout'
import { requirePart } from '../../helpers/parts'
import { simulatedQube, waitUntil } from '../updates-proxy/helpers'

export const tor = requirePart('tor')
export const unshare = requirePart('unshare', 'util-linux')

export const OBFS4 =
  'obfs4 192.0.2.1:443 0123456789ABCDEF0123456789ABCDEF01234567 cert=' + 'A'.repeat(70) + ' iat-mode=0'
export const SNOWFLAKE =
  'snowflake 192.0.2.3:80 2B280B23E1107BB62ABFC40DDCC8824814F80A72 fingerprint=2B280B23E1107BB62ABFC40DDCC8824814F80A72 url=https://broker.example/'

export interface Gateway {
  readonly root: string
  readonly config: string
  readonly context: AgentContext
  readonly file: string
  readonly userFile: string
  readonly tor: LoggedProcess
}

/** An executable stand-in for a plugin program: Tor's --verify-config only needs the path. */
export async function fakePlugin(root: string, systemPath: string): Promise<void> {
  const path = join(root, systemPath)
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, '#!/bin/sh\nexit 1\n')
  await chmod(path, 0o755)
}

/**
 * sys-whonix, simulated, with a real tor reading the files tor@default reads there: its
 * defaults, its torrc including /usr/local/etc/torrc.d/*.conf (re-rooted). Its defaults send
 * every connection to a SOCKS proxy on 127.0.0.1:1 (nothing there), so an enabled Tor never
 * leaves this machine.
 */
export async function gatewayWithTor(userConf = ''): Promise<Gateway> {
  const qube = await simulatedQube('gateway', {
    'tor.control': 'unix:/run/tor/control',
    'tor.timeoutMs': 10_000,
    'torSettings.torProgram': tor.path,
    'torSettings.unshareProgram': unshare.path,
    'torSettings.reloadTimeoutMs': 1500,
  })
  const { root } = qube
  const under = (path: string) => join(root, path)
  await writeGatewayTorFiles(root, userConf)
  const process = spawnLogged(tor.path as string, [
    '--defaults-torrc',
    under('/usr/share/tor/tor-service-defaults-torrc'),
    '-f',
    under('/etc/tor/torrc'),
  ])
  const cookie = under('/run/tor/control.authcookie')
  await waitUntil(
    'tor to open its control socket',
    async () =>
      (await stat(cookie).then(
        (info) => info.size === 32,
        () => false,
      )) && /Opened Control listener/.test(process.log()),
    20_000,
    20,
  )
  const context = await createContext({
    root,
    manifest: await loadManifest(qube.config),
    env: { PATH: '/usr/bin:/bin' },
  })
  return {
    root,
    config: qube.config,
    context,
    file: under('/usr/local/etc/torrc.d/40_tor_control_panel.conf'),
    userFile: under('/usr/local/etc/torrc.d/50_user.conf'),
    tor: process,
  }
}
