import dbus from 'dbus-next'

/**
 * A test service owning org.freedesktop.systemd1 on a test bus, written from systemd's
 * documented D-Bus API (org.freedesktop.systemd1(5)): the part the agent uses. Manager
 * GetUnit and RestartUnit, and the Unit interface's ActiveState through Properties.Get.
 */
export interface Systemd1StandIn {
  /** Loaded units and their ActiveState; a unit not here is not loaded (NoSuchUnit). */
  readonly units: Map<string, string>
  /** Each RestartUnit call: the unit and the mode. */
  readonly restarts: { unit: string; mode: string }[]
  /** When set, method calls get no answer at all (a hung systemd). */
  silent: boolean
  stop(): void
}

/** systemd's unit object path: every byte outside [A-Za-z0-9] becomes _XX. */
export function unitObjectPath(unit: string): string {
  const escaped = [...Buffer.from(unit)].map((byte) =>
    /[A-Za-z0-9]/.test(String.fromCharCode(byte))
      ? String.fromCharCode(byte)
      : `_${byte.toString(16).padStart(2, '0')}`,
  )
  return `/org/freedesktop/systemd1/unit/${escaped.join('')}`
}

export async function startSystemd1StandIn(address: string, units: Record<string, string>): Promise<Systemd1StandIn> {
  const bus = dbus.sessionBus({ busAddress: address })
  const standIn: Systemd1StandIn = {
    units: new Map(Object.entries(units)),
    restarts: [],
    silent: false,
    stop: () => bus.disconnect(),
  }
  let jobs = 0
  const unitAt = (path: string) => [...standIn.units.keys()].find((unit) => unitObjectPath(unit) === path)
  const reply = (message: dbus.Message, signature: string, body: unknown[]) =>
    bus.send(dbus.Message.newMethodReturn(message, signature, body))
  const fail = (message: dbus.Message, name: string, text: string) =>
    bus.send(dbus.Message.newError(message as never, name, text))

  bus.addMethodHandler((message: dbus.Message) => {
    if (standIn.silent) return true
    const call = `${message.interface}.${message.member}`
    if (message.path === '/org/freedesktop/systemd1' && call === 'org.freedesktop.systemd1.Manager.GetUnit') {
      const [unit] = message.body as [string]
      if (standIn.units.has(unit)) reply(message, 'o', [unitObjectPath(unit)])
      else fail(message, 'org.freedesktop.systemd1.NoSuchUnit', `Unit ${unit} not loaded.`)
      return true
    }
    if (message.path === '/org/freedesktop/systemd1' && call === 'org.freedesktop.systemd1.Manager.RestartUnit') {
      const [unit, mode] = message.body as [string, string]
      standIn.restarts.push({ unit, mode })
      standIn.units.set(unit, 'active')
      reply(message, 'o', [`/org/freedesktop/systemd1/job/${++jobs}`])
      return true
    }
    const unit = unitAt(message.path)
    if (unit !== undefined && call === 'org.freedesktop.DBus.Properties.Get') {
      const [iface, property] = message.body as [string, string]
      if (iface === 'org.freedesktop.systemd1.Unit' && property === 'ActiveState')
        reply(message, 'v', [new dbus.Variant('s', standIn.units.get(unit))])
      else fail(message, 'org.freedesktop.DBus.Error.UnknownProperty', `Unknown property ${iface}.${property}`)
      return true
    }
    fail(message, 'org.freedesktop.DBus.Error.UnknownMethod', `Unknown method ${call} on ${message.path}`)
    return true
  })
  const answer = await bus.requestName('org.freedesktop.systemd1', dbus.NameFlag.DO_NOT_QUEUE)
  if (answer !== dbus.RequestNameReply.PRIMARY_OWNER)
    throw new Error(`could not own org.freedesktop.systemd1 (${answer})`)
  return standIn
}
