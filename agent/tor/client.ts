import { parseControlAddress, type ControlAddress } from './address'
import { authenticate, type ProtocolInfo } from './auth'
import { ControlConnection, type ControlLimits } from './connection'

/** How to reach and authenticate to Tor's control interface (the manifest's `tor` section, re-rooted). */
export interface TorControlSettings extends ControlLimits {
  readonly address: ControlAddress
  /** The cookie to use; null: the one PROTOCOLINFO names. */
  readonly cookieFile: string | null
}

export interface TorControl {
  readonly connection: ControlConnection
  readonly info: ProtocolInfo
}

/** Connects and authenticates; the caller owns the connection (close it). */
export async function openTorControl(settings: TorControlSettings): Promise<TorControl> {
  const connection = await ControlConnection.open(settings.address, settings)
  try {
    const info = await authenticate(connection, settings.cookieFile)
    return { connection, info }
  } catch (error) {
    connection.close()
    throw error
  }
}

export { parseControlAddress }
