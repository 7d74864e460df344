// Stand-in for Qubes' qrexec-client-vm (the calling side of a qrexec call), for the hop from
// a template to its updates qube. `[--use-stdin-socket] TARGET SERVICE`: the call is carried
// to the service's socket in the other (simulated) qube as qrexec-agent carries it there:
// the descriptor `SERVICE+ SOURCE` and a NUL first, then the bytes both ways. The caller's
// EOF shuts the sending side; the service's EOF ends the call (exit-on-service-eof), as
// qubes.UpdatesProxy's rpc-config asks. With --use-stdin-socket stdin is a socket that
// carries the answer too, shut down for writing at the end.
// Environment: QWA_QREXEC_SERVICE_SOCKET (the service's socket), QWA_QREXEC_SOURCE (the
// calling qube's name), QWA_QREXEC_CALL_LOG (a file that gets one line per call).
import { appendFileSync } from 'node:fs'
import { connect, Socket } from 'node:net'

const args = process.argv.slice(2)
const onSocket = args[0] === '--use-stdin-socket'
const [target, service] = onSocket ? args.slice(1) : args
if (!target || !service) {
  process.stderr.write('usage: qrexec-client-vm [--use-stdin-socket] TARGET SERVICE\n')
  process.exit(2)
}
if (process.env.QWA_QREXEC_CALL_LOG) appendFileSync(process.env.QWA_QREXEC_CALL_LOG, `${target} ${service}\n`)

const input = onSocket ? new Socket({ fd: 0, readable: true, writable: true, allowHalfOpen: true }) : process.stdin
const output = onSocket ? input : process.stdout
const remote = connect({ path: process.env.QWA_QREXEC_SERVICE_SOCKET ?? '', allowHalfOpen: true })
remote.on('error', (error) => {
  process.stderr.write(`qrexec-client-vm stand-in: ${error.code ?? error.message}\n`)
  process.exit(125)
})
input.on('error', () => process.exit(0))
remote.on('connect', () => {
  remote.write(`${service}+ ${process.env.QWA_QREXEC_SOURCE ?? 'template'}\0`)
  input.pipe(remote)
  remote.pipe(output, { end: false })
  remote.on('end', () => output.end(() => process.exit(0)))
})
