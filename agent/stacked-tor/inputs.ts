import { readFile } from 'node:fs/promises'
import { errnoCode } from '../../rpc/errors'
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

/** Everything a workstation's table depends on, read once at start. */
export async function workstationInputs(context: AgentContext): Promise<WorkstationInputs> {
  const section = context.manifest.stackedTor
  const [gateway, gateway6, ipv6] = await Promise.all([
    context.qubesdb.read('/qubes-gateway'),
    context.qubesdb.read('/qubes-gateway6'),
    ipv6State(context.paths.under(section.ipv6DisabledFlag), section.ipv6DisabledFlag),
  ])
  return { gateway: gatewayFrom('/qubes-gateway', gateway), gateway6: gatewayFrom('/qubes-gateway6', gateway6), ipv6, under: (path) => context.paths.under(path) }
}
