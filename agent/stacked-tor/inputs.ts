import { readFile } from 'node:fs/promises'
import { networkInterfaces } from 'node:os'
import { errnoCode } from '../../rpc/errors'
import type { QubesdbRead } from '../qubesdb/reader'
import type { AgentContext } from '../context'
import { gatewayFrom, type WorkstationInputs } from './plan'

/** Whether IPv6 is enabled on loopback: the kernel switch must read 0. */
export async function ipv6State(flagPath: string, systemPath: string): Promise<WorkstationInputs['ipv6']> {
  let untrustedText: string
  try {
    untrustedText = (await readFile(flagPath, 'utf8')).slice(0, 16).trim()
  } catch (error) {
    return { enabled: false, reason: `IPv6 is not available (${systemPath}: ${errnoCode(error) ?? 'unreadable'})` }
  }
  if (untrustedText === '0') return { enabled: true }
  return { enabled: false, reason: `IPv6 is disabled (${systemPath} = ${JSON.stringify(untrustedText)})` }
}

/** This qube's own addresses: qubesdb's, and those of its interfaces now. */
export function ownAddresses(
  qubesdbValues: readonly QubesdbRead[],
  interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces(),
): string[] {
  const fromQubesdb = qubesdbValues.flatMap((read) => (read.state === 'present' ? [read.value] : []))
  const fromInterfaces = Object.values(interfaces).flatMap((list) =>
    (list ?? []).map((entry) => entry.address.replace(/%.*$/, '')),
  )
  return [...fromQubesdb, ...fromInterfaces]
}

/** Everything a workstation's table depends on, read once at start. */
export async function workstationInputs(context: AgentContext): Promise<WorkstationInputs> {
  const section = context.manifest.stackedTor
  const [gateway, gateway6, ip, ip6, ipv6] = await Promise.all([
    context.qubesdb.read('/qubes-gateway'),
    context.qubesdb.read('/qubes-gateway6'),
    context.qubesdb.read('/qubes-ip'),
    context.qubesdb.read('/qubes-ip6'),
    ipv6State(context.paths.under(section.ipv6DisabledFlag), section.ipv6DisabledFlag),
  ])
  const own = ownAddresses([ip, ip6])
  return {
    gateway: gatewayFrom('/qubes-gateway', gateway, own),
    gateway6: gatewayFrom('/qubes-gateway6', gateway6, own),
    ipv6,
    under: (path) => context.paths.under(path),
  }
}
