import { execFileSync } from 'node:child_process'

/**
 * Real parts (tinyproxy, tor, dbus-daemon...) the tests use. Missing in CI (CI=true) is a
 * failure; elsewhere the suite is skipped and says why.
 */
export function findProgram(program: string): string | null {
  try {
    return execFileSync('sh', ['-c', 'command -v "$1"', 'sh', program], { encoding: 'utf8' }).trim() || null
  } catch {
    for (const dir of ['/usr/sbin', '/sbin', '/usr/bin']) {
      try {
        execFileSync('test', ['-x', `${dir}/${program}`])
        return `${dir}/${program}`
      } catch {
        // not there either
      }
    }
    return null
  }
}

export interface Part {
  readonly path: string | null
  /** Pass to describe.skipIf / it.skipIf. */
  readonly missing: boolean
  readonly reason: string
}

export function requirePart(program: string, installHint = program): Part {
  const path = findProgram(program)
  if (path === null && process.env.CI === 'true')
    throw new Error(
      `${program} is required in CI (install the Debian package ${installHint}; .ci/system-packages lists it)`,
    )
  if (path === null) console.warn(`skipping: ${program} is not installed (Debian package ${installHint})`)
  return { path, missing: path === null, reason: `${program} not installed` }
}

/** Whether this process may create network namespaces (root with CAP_SYS_ADMIN/NET_ADMIN). */
export function canUseNetns(): boolean {
  try {
    const name = `qwa-probe-${process.pid}`
    execFileSync('ip', ['netns', 'add', name], { stdio: 'ignore' })
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
