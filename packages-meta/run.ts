import { spawn } from 'node:child_process'

// The one place the packaging tool runs programs (dpkg-buildpackage, the bundle, git).

export interface ToolCommand {
  readonly argv: readonly [string, ...string[]]
  readonly cwd?: string
  readonly env?: Readonly<Record<string, string>>
  /** Show the program's output as it runs instead of keeping it. */
  readonly show?: boolean
}

export interface ToolResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export function runTool(command: ToolCommand): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = command.argv
    const child = spawn(file, args, {
      cwd: command.cwd,
      env: { ...process.env, ...command.env },
      stdio: ['ignore', command.show ? 'inherit' : 'pipe', command.show ? 'inherit' : 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** Runs and insists on success; the error carries the command and what it said. */
export async function mustRun(command: ToolCommand): Promise<ToolResult> {
  const result = await runTool(command)
  if (result.code !== 0)
    throw new Error(
      `${command.argv.join(' ')} failed (exit ${result.code})${result.stderr ? `:\n${result.stderr.trim()}` : ''}`,
    )
  return result
}
