import type { Message as DbusMessage, MessageBus, MessageLike } from 'dbus-next'
import { CodedError, errorMessage } from '../../rpc/errors'

/**
 * A small client of systemd's D-Bus API (org.freedesktop.systemd1 on the system bus):
 * the two questions the agent asks, without running systemctl. Each call is bounded by
 * `timeoutMs`; a bus that cannot be reached or does not answer is a CodedError.
 */
export interface SystemdClient {
  /** Whether the unit is active (or reloading), as `systemctl is-active` counts it; a unit not loaded is not. */
  isActive(unit: string): Promise<boolean>
  /** Queues a restart of the unit (mode "replace") and resolves to the job's object path, without waiting for it. */
  restart(unit: string): Promise<string>
  close(): void
}

export interface SystemdClientOptions {
  /** A D-Bus address such as `unix:path=/run/dbus/system_bus_socket`. */
  readonly busAddress: string
  readonly timeoutMs: number
}

const DESTINATION = 'org.freedesktop.systemd1'
const MANAGER_PATH = '/org/freedesktop/systemd1'
const MANAGER = 'org.freedesktop.systemd1.Manager'
const UNIT = 'org.freedesktop.systemd1.Unit'
const PROPERTIES = 'org.freedesktop.DBus.Properties'
const NO_SUCH_UNIT = 'org.freedesktop.systemd1.NoSuchUnit'
const OBJECT_PATH = /^\/[A-Za-z0-9_/]*$/

/** The system bus: DBUS_SYSTEM_BUS_ADDRESS when set (as libdbus and sd-bus read it), else the default. */
export function systemBusAddress(env: NodeJS.ProcessEnv, fallback: string): string {
  const fromEnv = env.DBUS_SYSTEM_BUS_ADDRESS
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : fallback
}

export async function connectSystemd(options: SystemdClientOptions): Promise<SystemdClient> {
  // dbus-next is loaded only by the commands that talk to systemd.
  const dbus = (await import('dbus-next')).default
  const bus: MessageBus = dbus.sessionBus({ busAddress: options.busAddress, authMethods: ['EXTERNAL'] })
  let closed = false
  const broken = new Promise<never>((_resolve, reject) => {
    bus.on('error', (error: unknown) =>
      reject(new CodedError('SYSTEMD_BUS', `D-Bus ${options.busAddress}: ${errorMessage(error)}`, { cause: error })),
    )
  })
  // Keep an unobserved failure from surfacing as an unhandled rejection.
  broken.catch(() => undefined)

  async function call(what: string, message: MessageLike): Promise<DbusMessage> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(new CodedError('SYSTEMD_TIMEOUT', `systemd did not answer ${what} within ${options.timeoutMs} ms`)),
        options.timeoutMs,
      )
    })
    try {
      const reply = await Promise.race([
        bus.call(new dbus.Message({ destination: DESTINATION, ...message })),
        broken,
        timeout,
      ])
      if (reply === null) throw new CodedError('SYSTEMD_REPLY', `systemd sent no reply to ${what}`)
      return reply
    } finally {
      clearTimeout(timer)
    }
  }

  const dbusErrorName = (error: unknown): string | undefined =>
    error instanceof dbus.DBusError ? error.type : undefined

  async function unitPath(unit: string): Promise<string | null> {
    try {
      const reply = await call(`GetUnit ${unit}`, {
        path: MANAGER_PATH,
        interface: MANAGER,
        member: 'GetUnit',
        signature: 's',
        body: [unit],
      })
      return objectPath(reply.body[0], `GetUnit ${unit}`)
    } catch (error) {
      if (dbusErrorName(error) === NO_SUCH_UNIT) return null
      throw wrap(error, `GetUnit ${unit}`)
    }
  }

  return {
    async isActive(unit) {
      const path = await unitPath(unit)
      if (path === null) return false
      try {
        const reply = await call(`ActiveState of ${unit}`, {
          path,
          interface: PROPERTIES,
          member: 'Get',
          signature: 'ss',
          body: [UNIT, 'ActiveState'],
        })
        const untrustedState = (reply.body[0] as { value?: unknown } | undefined)?.value
        if (typeof untrustedState !== 'string')
          throw new CodedError('SYSTEMD_REPLY', `systemd answered ActiveState of ${unit} with no string`)
        return untrustedState === 'active' || untrustedState === 'reloading'
      } catch (error) {
        throw wrap(error, `ActiveState of ${unit}`)
      }
    },
    async restart(unit) {
      try {
        const reply = await call(`RestartUnit ${unit}`, {
          path: MANAGER_PATH,
          interface: MANAGER,
          member: 'RestartUnit',
          signature: 'ss',
          body: [unit, 'replace'],
        })
        return objectPath(reply.body[0], `RestartUnit ${unit}`)
      } catch (error) {
        throw wrap(error, `RestartUnit ${unit}`)
      }
    },
    close() {
      if (closed) return
      closed = true
      bus.disconnect()
    },
  }
}

function objectPath(untrusted: unknown, what: string): string {
  if (typeof untrusted !== 'string' || untrusted.length > 1024 || !OBJECT_PATH.test(untrusted))
    throw new CodedError('SYSTEMD_REPLY', `systemd answered ${what} with no object path`)
  return untrusted
}

function wrap(error: unknown, what: string): CodedError {
  if (error instanceof CodedError) return error
  return new CodedError('SYSTEMD_CALL', `systemd refused ${what}: ${errorMessage(error)}`, { cause: error })
}
