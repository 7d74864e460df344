import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { inject } from 'vitest'

export const AGENT = fileURLToPath(new URL('../../dist/qubes-whonix-agent.mjs', import.meta.url))

/**
 * The bundle copied where any user can read it: a checkout may sit in a directory only its
 * owner can enter (a CI clone under mktemp -d), and tests run the agent as nobody. The
 * global setup (test/global-setup.ts) makes it and removes it after the run.
 */
export function agentForAnyUser(): Promise<string> {
  return Promise.resolve(inject('agentForAnyUser'))
}

export interface AgentRun {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv
  readonly input?: string
  readonly timeoutMs?: number
  readonly asUser?: number
  readonly cwd?: string
}

/** Runs the built agent (the shipped bundle) as a real process. */
export function runAgent(args: readonly string[], options: RunOptions = {}): Promise<AgentRun> {
  const agent = options.asUser === undefined ? Promise.resolve(AGENT) : agentForAnyUser()
  return agent.then((file) => runProgram(process.execPath, [file, ...args], options))
}

/** Runs a program to its end (killed after `timeoutMs`) and gives what it printed. */
export function runProgram(program: string, args: readonly string[], options: RunOptions = {}): Promise<AgentRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      env: options.env ?? { ...process.env, PATH: '/usr/bin:/bin' },
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
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
