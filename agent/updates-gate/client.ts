import { spawn, type ChildProcess } from 'node:child_process'
import type { Socket } from 'node:net'
import { qrexecClientVmArgv } from '../../rpc/qrexec-client'

export interface GateCall {
  readonly program: string
  readonly target: string
  readonly service: string
}

/**
 * As Qubes' forwarder runs it (`--use-stdin-socket`: the connection is the client's stdin and
 * it shuts the socket's sending side down itself), or on pipes when the gate has read the
 * request's head and must send those bytes first.
 */
export function gateClientArgv(call: GateCall, onSocket: boolean): [string, ...string[]] {
  const [program, ...rest] = qrexecClientVmArgv({ program: call.program, target: call.target, service: call.service })
  return onSocket ? [program, '--use-stdin-socket', ...rest] : [program, ...rest]
}

/**
 * Starts qrexec-client-vm on the connection itself: from here the bytes flow between the
 * client's socket and qrexec without passing through this process. Null when it could not start.
 */
export function startOnSocket(call: GateCall, socket: Socket): ChildProcess | null {
  const [file, ...args] = gateClientArgv(call, true)
  // The client gets the socket as systemd hands it over, blocking (the flag belongs to the
  // connection, not to our copy). Node's stream handles have had setBlocking since 0.x.
  ;(socket as unknown as { _handle?: { setBlocking?: (blocking: boolean) => number } | null })._handle?.setBlocking?.(
    true,
  )
  const child = spawn(file, args, { stdio: [socket, socket, 'inherit'] })
  child.on('error', () => undefined)
  return child.pid === undefined ? null : child
}

/** Starts qrexec-client-vm on pipes; the caller writes what was read and connects the rest. */
export function startOnPipes(call: GateCall): ChildProcess | null {
  const [file, ...args] = gateClientArgv(call, false)
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'inherit'] })
  child.on('error', () => undefined)
  child.stdin?.on('error', () => undefined)
  return child.pid === undefined ? null : child
}
