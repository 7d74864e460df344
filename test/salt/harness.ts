import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const STATE_ROOT = fileURLToPath(new URL('../../salt/user_salt', import.meta.url))
export const PILLAR_ROOT = fileURLToPath(new URL('../../salt/user_pillar', import.meta.url))
const RENDER_SCRIPT = fileURLToPath(new URL('./render.py', import.meta.url))
// Debian's interpreter, where python3-jinja2 and python3-yaml live (not a pyenv on PATH).
export const DEBIAN_PYTHON = '/usr/bin/python3'

export type Grains = Record<string, string>
export const DOM0_GRAINS: Grains = { id: 'dom0', os: 'Fedora', os_family: 'RedHat' }
export const templateGrains = (id: string): Grains => ({ id, os: 'Debian', os_family: 'Debian', oscodename: 'trixie' })

/** One state as compiled: its SLS, its ID and the body (`{'mod.fun': [args...]}`). */
export interface CompiledState {
  readonly sls: string
  readonly id: string
  readonly body: unknown
}

export interface RenderAnswer {
  readonly pillar: Record<string, unknown>
  readonly sls: Record<string, { order: string[]; states: CompiledState[] }>
  readonly tops: Record<string, unknown>
}

export interface RenderRequest {
  readonly grains: Grains
  /** Omitted: compiled from the pillar top file and SLS under pillarRoot, as Salt does. */
  readonly pillar?: Record<string, unknown>
  readonly sls?: readonly string[]
  readonly tops?: readonly string[]
  readonly stateRoot?: string
  readonly pillarRoot?: string
}

/** Renders through test/salt/render.py (real Jinja2 and PyYAML); a render error rejects. */
export function render(request: RenderRequest): Promise<RenderAnswer> {
  const input = JSON.stringify({
    stateRoot: request.stateRoot ?? STATE_ROOT,
    pillarRoot: request.pillarRoot ?? PILLAR_ROOT,
    grains: request.grains,
    pillar: request.pillar ?? null,
    sls: request.sls ?? [],
    tops: request.tops ?? [],
  })
  return new Promise((resolve, reject) => {
    const child = spawn(DEBIAN_PYTHON, [RENDER_SCRIPT], { env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' } })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      let answer: { ok: boolean; error?: string } & RenderAnswer
      try {
        answer = JSON.parse(stdout) as typeof answer
      } catch {
        reject(new Error(`render.py exited ${code}: ${stderr.slice(0, 2000)}`))
        return
      }
      if (answer.ok) resolve(answer)
      else reject(new Error(`render failed: ${answer.error}`))
    })
    child.stdin.end(input)
  })
}

/**
 * The real parts these tests need: Debian's python3 with python3-jinja2 and python3-yaml.
 * Missing in CI (CI=true) is a failure; elsewhere the suite is skipped and says why.
 */
export function debianJinja(): { missing: boolean; reason: string } {
  const probe = spawnSync(DEBIAN_PYTHON, ['-c', 'import jinja2, yaml'], { encoding: 'utf8' })
  if (probe.status === 0) return { missing: false, reason: '' }
  const reason = `${DEBIAN_PYTHON} cannot import jinja2 and yaml (Debian packages python3-jinja2 python3-yaml; .ci/system-packages lists them)`
  if (process.env.CI === 'true') throw new Error(reason)
  console.warn(`skipping: ${reason}`)
  return { missing: true, reason }
}
