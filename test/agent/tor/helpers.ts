import type { ChildProcess } from 'node:child_process'
import { mkdir, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { onTestFinished } from 'vitest'
import { spawnLogged } from '../../helpers/process'
import { freePort, waitUntil } from '../updates-proxy/helpers'
import { createStandInTor, type StandInTor } from './stand-in'

export type { StandInTor } from './stand-in'

export interface RealTor {
  readonly process: ChildProcess
  readonly controlPort: number
  readonly controlSocket: string
  readonly cookieFile: string
  readonly log: () => string
  stop(): Promise<void>
}

/**
 * A real tor (Debian's) in a temporary data directory that never reaches the network
 * (DisableNetwork 1): its bootstrap never completes. Control port and socket with cookie
 * authentication, as on a Whonix-Gateway.
 */
export async function startTor(
  program: string,
  dir: string,
  where: { controlSocket?: string; cookieFile?: string } = {},
): Promise<RealTor> {
  const dataDir = join(dir, 'tor-data')
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const controlSocket = where.controlSocket ?? join(dataDir, 'control')
  const cookieFile = where.cookieFile ?? join(dataDir, 'control.authcookie')
  // Tor wants the socket's directory private; the cookie's must exist.
  await mkdir(dirname(controlSocket), { recursive: true, mode: 0o700 })
  await mkdir(dirname(cookieFile), { recursive: true, mode: 0o700 })
  for (let attempt = 0; ; attempt++) {
    const controlPort = await freePort()
    const torrc = join(dir, 'torrc')
    await writeFile(
      torrc,
      [
        `DataDirectory ${dataDir}`,
        'DisableNetwork 1',
        'SocksPort 0',
        `ControlPort 127.0.0.1:${controlPort}`,
        `ControlSocket ${controlSocket}`,
        'CookieAuthentication 1',
        // No GeoIP files: parsing them right after the control port opens keeps Tor from answering for seconds.
        'GeoIPFile ""',
        'GeoIPv6File ""',
        `CookieAuthFile ${cookieFile}`,
        'Log notice stdout',
        '',
      ].join('\n'),
    )
    const { child, log, exited, stop } = spawnLogged(program, ['-f', torrc, '--defaults-torrc', '/dev/null'])
    const ready = waitUntil(
      'tor to open its control port',
      async () =>
        (await stat(cookieFile).then(
          (info) => info.size === 32,
          () => false,
        )) && /Opened Control listener.*\/control/.test(log()),
      15_000,
      20,
    ).then(() => true)
    if (await Promise.race([ready, exited]))
      return { process: child, controlPort, controlSocket, cookieFile, log, stop }
    if (attempt >= 2) throw new Error(`tor did not start: ${log()}`)
  }
}

/** The stand-in control port, closed after the test. */
export async function startStandInTor(initialProgress: number): Promise<StandInTor> {
  const standIn = await createStandInTor(initialProgress)
  onTestFinished(standIn.close)
  return standIn
}
