import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const AGENT = fileURLToPath(new URL('../../dist/qubes-whonix-agent.mjs', import.meta.url))

export interface AgentRun {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the built agent (the shipped bundle) as a real process. */
export function runAgent(args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; asUser?: number } = {}): Promise<AgentRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AGENT, ...args], {
      env: options.env ?? { ...process.env, PATH: '/usr/bin:/bin' },
      ...(options.asUser === undefined ? {} : { uid: options.asUser, gid: options.asUser }),
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
    child.stdin.end(options.input ?? '')
  })
}
