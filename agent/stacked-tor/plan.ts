import { isIPv4, isSelfAddress } from '../net/ip'
import type { QubesdbRead } from '../qubesdb/reader'
import { formatEndpoint, tcpEndpoint, unixEndpoint, type Endpoint } from './endpoint'
import type { StackedTorSection } from './manifest'

/** One row of the forwarding table, decided before anything listens. */
export interface ForwarderPlan {
  /** Where applications connect, as they name it (system path, or address:port). */
  readonly name: string
  readonly listen: Endpoint
  /** null: this listener must not listen; `reason` says why. */
  readonly target: Endpoint | null
  readonly reason?: string
  /** A Unix socket: owner and mode to give it once it exists. */
  readonly socket?: { readonly mode: number }
}

export type GatewayAnswer = { readonly address: string } | { readonly error: string }

/**
 * Checks a qubesdb read of the gateway's address; anything but a usable address is an error.
 * A gateway that is this qube (`own`: its addresses) would forward every connection back to
 * ourselves: the address is compared parsed, so no other spelling of it passes.
 */
export function gatewayFrom(key: string, read: QubesdbRead, own: readonly string[] = []): GatewayAnswer {
  switch (read.state) {
    case 'present':
      return isSelfAddress(read.value, own)
        ? { error: `qubesdb ${key} is ${read.value}, an address of this qube itself` }
        : { address: read.value }
    case 'absent':
      return { error: `qubesdb has no ${key}` }
    case 'invalid':
      return { error: `qubesdb ${key} is invalid: ${read.reason}` }
    case 'failed':
      return { error: `qubesdb ${key} could not be read: ${read.reason}` }
  }
}

export interface WorkstationInputs {
  readonly gateway: GatewayAnswer
  readonly gateway6: GatewayAnswer
  /** Whether IPv6 is enabled in this qube; when not, why. */
  readonly ipv6: { readonly enabled: true } | { readonly enabled: false; readonly reason: string }
  /** Re-roots a socket path (tests and simulated qubes). */
  readonly under: (systemPath: string) => string
}

const target = (answer: GatewayAnswer, port: number) =>
  'address' in answer
    ? { target: tcpEndpoint(answer.address, port) }
    : { target: null, reason: `${answer.error}: not listening (fail closed)` }

function row(
  listen: Endpoint,
  name: string,
  to: { target: Endpoint | null; reason?: string },
  socketMode?: number,
): ForwarderPlan {
  return { name, listen, ...to, ...(socketMode === undefined ? {} : { socket: { mode: socketMode } }) }
}

/** The whole table of a workstation (not a template): every listener, each with its target or why it has none. */
export function workstationPlan(section: StackedTorSection, inputs: WorkstationInputs): ForwarderPlan[] {
  const { ipv4, ipv6 } = section.loopback
  const v4 = section.tcp.map((entry) =>
    row(tcpEndpoint(ipv4, entry.port), formatEndpoint(tcpEndpoint(ipv4, entry.port)), target(inputs.gateway, entry.to)),
  )
  const v6 = section.tcp.map((entry) => {
    const listen = tcpEndpoint(ipv6, entry.port)
    if (!inputs.ipv6.enabled)
      return row(listen, formatEndpoint(listen), { target: null, reason: `${inputs.ipv6.reason}: not listening` })
    return row(listen, formatEndpoint(listen), target(inputs.gateway6, entry.to))
  })
  const unix = section.unix.map((entry) =>
    row(unixEndpoint(inputs.under(entry.path)), entry.path, target(inputs.gateway, entry.to), section.socketMode),
  )
  return [...v4, ...v6, ...unix]
}

/** A Whonix template: its few listeners forward to the gateway's fixed address from the manifest. */
export function templatePlan(section: StackedTorSection, gatewayAddress: string): ForwarderPlan[] {
  if (!isIPv4(gatewayAddress)) throw new TypeError(`not an IPv4 address: ${gatewayAddress}`)
  return section.template.tcp.map((entry) => {
    const listen = tcpEndpoint(section.loopback.ipv4, entry.port)
    return row(listen, formatEndpoint(listen), { target: tcpEndpoint(gatewayAddress, entry.to) })
  })
}
