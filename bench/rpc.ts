/**
 * `npm run bench -- rpc`: whonix.Role as a socket service of the running daemon vs the same
 * handler as an executable service (a process per call, the way upstream's services run),
 * both called through the qrexec-agent stand-in, side by side in one run. Also the direct
 * socket call (no stand-in: the daemon's own cost) and the daemon's idle RSS.
 */
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { descriptorFor } from '../rpc/descriptor'
import { callSocketService } from '../rpc/socket-client'
import { callThroughAgent } from '../test/stand-ins/qrexec-agent'
import { percentile, round } from './stats'

const AGENT = resolve('dist/qubes-whonix-agent.mjs')
const SOCKET_CALLS = Number(process.env.BENCH_SOCKET_CALLS ?? 3000)
const EXEC_CALLS = Number(process.env.BENCH_EXEC_CALLS ?? 30)

function rssMiB(pid: number): number {
  const line =
    readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:')) ?? ''
  return Number(/([0-9]+)/.exec(line)?.[1]) / 1024
}

async function measure(
  calls: number,
  once: () => Promise<void>,
): Promise<{ perSecond: number; p50: number; p99: number }> {
  for (let warm = 0; warm < Math.min(20, calls); warm++) await once()
  const latencies: number[] = []
  const started = process.hrtime.bigint()
  for (let index = 0; index < calls; index++) {
    const at = process.hrtime.bigint()
    await once()
    latencies.push(Number(process.hrtime.bigint() - at) / 1e6)
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return {
    perSecond: round(calls / seconds),
    p50: round(percentile(latencies, 50), 3),
    p99: round(percentile(latencies, 99), 3),
  }
}

const root = mkdtempSync(join(tmpdir(), 'qwa-bench-rpc-'))
let served: ReturnType<typeof spawn> | undefined
try {
  if (spawnSync(process.execPath, [AGENT, '--root', root, 'simulate', '--as', 'gateway']).status !== 0)
    throw new Error('simulate failed')
  served = spawn(process.execPath, [AGENT, '--root', root, 'daemon'], {
    env: { PATH: '/usr/bin:/bin' },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let log = ''
  served.stderr?.setEncoding('utf8').on('data', (chunk: string) => (log += chunk))
  for (let wait = 0; !/<6>serving/.test(log); wait++) {
    if (wait > 400) throw new Error(`daemon did not start:\n${log}`)
    await new Promise((resolve_) => setTimeout(resolve_, 50))
  }
  await new Promise((resolve_) => setTimeout(resolve_, 1000))
  const idleRss = rssMiB(served.pid ?? 0)

  // Socket service: R4.2's way in, a link in /etc/qubes-rpc to the daemon's socket.
  const socketDir = join(root, 'bench/socket-services')
  mkdirSync(socketDir, { recursive: true })
  symlinkSync(join(root, 'run/qubes-rpc/whonix.Role'), join(socketDir, 'whonix.Role'))
  // Executable service: the same handler, a process per call.
  const execDir = join(root, 'bench/exec-services')
  mkdirSync(execDir, { recursive: true })
  writeFileSync(
    join(execDir, 'whonix.Role'),
    `#!/bin/sh\nexec ${process.execPath} ${AGENT} --root ${root} rpc-exec whonix.Role "$@"\n`,
  )
  chmodSync(join(execDir, 'whonix.Role'), 0o755)

  const expectRole = (stdout: Buffer, exitCode: number) => {
    if (exitCode !== 0 || !stdout.toString().startsWith('{"ok":true,"result":{"schema":1'))
      throw new Error(`bad answer (exit ${exitCode}): ${stdout.toString().slice(0, 200)}`)
  }
  const viaStandIn = (dir: string) => async () => {
    const result = await callThroughAgent(
      { serviceDirs: [dir], env: { PATH: '/usr/bin:/bin' } },
      { service: 'whonix.Role', source: 'dom0' },
    )
    expectRole(result.stdout, result.exitCode)
  }
  const socketPath = join(root, 'run/qubes-rpc/whonix.Role')
  const direct = async () =>
    expectRole(
      await callSocketService(socketPath, descriptorFor('whonix.Role', 'dom0'), {
        timeoutMs: 5000,
        maxOutputBytes: 1 << 20,
      }),
      0,
    )

  const socket = await measure(SOCKET_CALLS, viaStandIn(socketDir))
  const executable = await measure(EXEC_CALLS, viaStandIn(execDir))
  const directSocket = await measure(SOCKET_CALLS, direct)
  const afterRss = rssMiB(served.pid ?? 0)
  served.kill('SIGTERM')

  // For scale: the same Node doing nothing, and the agent's own one-shot `role` at exit.
  const bareNode =
    Number(
      spawnSync(
        process.execPath,
        [
          '-e',
          "setTimeout(() => console.log(/VmRSS:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]), 1000)",
        ],
        { encoding: 'utf8' },
      ).stdout,
    ) / 1024

  const speedup = round(socket.perSecond / executable.perSecond)
  console.log(`whonix.Role through the qrexec-agent stand-in, sequential calls:`)
  console.log(
    `  socket service (daemon):   ${socket.perSecond} calls/s, p50 ${socket.p50} ms, p99 ${socket.p99} ms  (${SOCKET_CALLS} calls)`,
  )
  console.log(
    `  executable service:        ${executable.perSecond} calls/s, p50 ${executable.p50} ms, p99 ${executable.p99} ms  (${EXEC_CALLS} calls)`,
  )
  console.log(`  socket / executable:       ${speedup}x  (goal >= 20x)`)
  console.log(
    `  direct socket (no stand-in): ${directSocket.perSecond} calls/s, p50 ${directSocket.p50} ms, p99 ${directSocket.p99} ms`,
  )
  console.log(
    `daemon RSS: idle ${round(idleRss)} MiB (goal <= 50), after ${2 * SOCKET_CALLS + EXEC_CALLS} calls ${round(afterRss)} MiB; an idle bare node: ${round(bareNode)} MiB`,
  )
  console.log(
    JSON.stringify({
      bench: 'rpc',
      figures: {
        socketCallsPerSecond: socket.perSecond,
        socketP50Ms: socket.p50,
        socketP99Ms: socket.p99,
        executableCallsPerSecond: executable.perSecond,
        executableP50Ms: executable.p50,
        executableP99Ms: executable.p99,
        speedup,
        directSocketCallsPerSecond: directSocket.perSecond,
        directSocketP50Ms: directSocket.p50,
        directSocketP99Ms: directSocket.p99,
        daemonIdleRssMiB: round(idleRss),
        daemonRssAfterLoadMiB: round(afterRss),
        bareNodeRssMiB: round(bareNode),
      },
      goal: 'socket service >= 20x the executable service in calls/s; daemon idle RSS <= 50 MiB',
      met: speedup >= 20 && idleRss <= 50,
    }),
  )
} finally {
  served?.kill('SIGKILL')
  rmSync(root, { recursive: true, force: true })
}
