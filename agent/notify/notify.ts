import type { MessageBus } from 'dbus-next'
import { CodedError } from '../../rpc/errors'

/** One desktop notification (the freedesktop.org Desktop Notifications specification). */
export interface DesktopNotification {
  readonly appName: string
  readonly summary: string
  readonly body: string
  readonly urgency: 'low' | 'normal' | 'critical'
  /** -1: the server decides; 0: never expires. */
  readonly expireTimeoutMs: number
}

const URGENCY = { low: 0, normal: 1, critical: 2 } as const
const NOTIFICATIONS = {
  destination: 'org.freedesktop.Notifications',
  path: '/org/freedesktop/Notifications',
  interface: 'org.freedesktop.Notifications',
}

/**
 * Sends a notification over the session bus at `busAddress`; resolves to the id the server
 * gave it. The whole exchange (connect, authenticate, call) is bounded by `timeoutMs`.
 */
export async function sendNotification(
  busAddress: string,
  notification: DesktopNotification,
  timeoutMs: number,
): Promise<number> {
  // Loaded on first use: only the alert needs D-Bus.
  const dbus = (await import('dbus-next')).default
  let bus: MessageBus | undefined
  let timer: NodeJS.Timeout | undefined
  try {
    bus = dbus.sessionBus({ busAddress })
    const failed = new Promise<never>((_, reject) => {
      bus?.on('error', (error: Error) =>
        reject(new CodedError('NOTIFY_FAILED', `session bus ${busAddress}: ${error.message}`, { cause: error })),
      )
      timer = setTimeout(
        () => reject(new CodedError('NOTIFY_TIMEOUT', `no answer from the notification server within ${timeoutMs} ms`)),
        timeoutMs,
      )
    })
    // Keep a failure that comes after the answer from surfacing as an unhandled rejection.
    failed.catch(() => undefined)
    const message = new dbus.Message({
      ...NOTIFICATIONS,
      member: 'Notify',
      signature: 'susssasa{sv}i',
      body: [
        notification.appName,
        0,
        '',
        notification.summary,
        notification.body,
        [],
        { urgency: new dbus.Variant('y', URGENCY[notification.urgency]) },
        notification.expireTimeoutMs,
      ],
    })
    const reply = await Promise.race([bus.call(message), failed])
    const id: unknown = reply?.body[0]
    if (typeof id !== 'number') throw new CodedError('NOTIFY_FAILED', 'the notification server gave no notification id')
    return id
  } catch (error) {
    if (error instanceof CodedError) throw error
    const name = (error as { type?: string }).type
    throw new CodedError(
      'NOTIFY_FAILED',
      `${NOTIFICATIONS.destination}.Notify failed: ${name ? `${name}: ` : ''}${(error as Error).message}`,
      { cause: error },
    )
  } finally {
    clearTimeout(timer)
    bus?.disconnect()
  }
}
