import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectSystemd, systemBusAddress } from '../../../agent/systemd/client'
import { requirePart } from '../../helpers/parts'
import { startTestBus, type TestBus } from './dbus-daemon'
import { startSystemd1StandIn, unitObjectPath, type Systemd1StandIn } from './systemd1-stand-in'

const dbusDaemon = requirePart('dbus-daemon', 'dbus')

describe.skipIf(dbusDaemon.missing)('the systemd D-Bus client, against a real dbus-daemon', () => {
  let bus: TestBus
  let systemd: Systemd1StandIn
  beforeAll(async () => {
    bus = await startTestBus(dbusDaemon.path ?? 'dbus-daemon')
    systemd = await startSystemd1StandIn(bus.address, {
      'tor@default.service': 'active',
      'sleepy.service': 'inactive',
      'busy.service': 'reloading',
    })
  })
  afterAll(async () => {
    systemd?.stop()
    await bus?.stop()
  })

  const withClient = async <T>(
    use: (client: Awaited<ReturnType<typeof connectSystemd>>) => Promise<T>,
    timeoutMs = 5000,
  ) => {
    const client = await connectSystemd({ busAddress: bus.address, timeoutMs })
    try {
      return await use(client)
    } finally {
      client.close()
    }
  }

  it('tells an active unit from an inactive one and from one that is not loaded', async () => {
    await withClient(async (client) => {
      expect(await client.isActive('tor@default.service')).toBe(true)
      expect(await client.isActive('busy.service')).toBe(true)
      expect(await client.isActive('sleepy.service')).toBe(false)
      expect(await client.isActive('absent.service')).toBe(false)
    })
  })

  it('restarts a unit with mode replace and returns the job', async () => {
    const before = systemd.restarts.length
    const job = await withClient((client) => client.restart('sleepy.service'))
    expect(job).toMatch(/^\/org\/freedesktop\/systemd1\/job\/\d+$/)
    expect(systemd.restarts.slice(before)).toEqual([{ unit: 'sleepy.service', mode: 'replace' }])
    expect(await withClient((client) => client.isActive('sleepy.service'))).toBe(true)
  })

  it('escapes unit names into object paths as systemd does', () => {
    expect(unitObjectPath('tor@default.service')).toBe('/org/freedesktop/systemd1/unit/tor_40default_2eservice')
  })

  it('reports a systemd that does not answer within the bound', async () => {
    systemd.silent = true
    try {
      await expect(withClient((client) => client.isActive('tor@default.service'), 300)).rejects.toMatchObject({
        code: 'SYSTEMD_TIMEOUT',
      })
    } finally {
      systemd.silent = false
    }
  })

  it('reports a bus that is not there', async () => {
    const client = await connectSystemd({ busAddress: 'unix:path=/nonexistent/qwa-bus.sock', timeoutMs: 2000 })
    await expect(client.isActive('tor@default.service')).rejects.toMatchObject({ code: 'SYSTEMD_BUS' })
    client.close()
  })

  it('takes the bus from DBUS_SYSTEM_BUS_ADDRESS, else the manifest default', () => {
    expect(systemBusAddress({ DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/x' }, 'unix:path=/y')).toBe('unix:path=/x')
    expect(systemBusAddress({}, 'unix:path=/y')).toBe('unix:path=/y')
  })
})
