import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// `systemd-analyze verify` checks units against the system it runs on (ExecStart= programs
// must exist). The package's /usr is overlaid on this machine's, in a mount namespace of its
// own, so the check sees the installed layout without touching the real system.

const UNIT = /\.(service|socket|timer|path|target|mount)$/

export interface VerifyResult {
  readonly units: readonly string[]
  readonly code: number | null
  /** What systemd-analyze said (empty when every unit is clean). */
  readonly output: string
}

const unitsIn = (dir: string) =>
  existsSync(dir) ? readdirSync(dir).filter((name) => UNIT.test(name) && !name.includes('@')) : []

/** Unpacks the package afresh and verifies every system and user unit in it. */
export function verifyUnits(deb: string, systemUnitDir: string, userUnitDir: string): VerifyResult | 'unsupported' {
  if (process.getuid?.() !== 0) return 'unsupported'
  const work = mkdtempSync(join(tmpdir(), 'qwa-verify-'))
  try {
    return verifyUnpacked(deb, work, systemUnitDir, userUnitDir)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

function verifyUnpacked(
  deb: string,
  work: string,
  systemUnitDir: string,
  userUnitDir: string,
): VerifyResult | 'unsupported' {
  const extracted = join(work, 'root')
  execFileSync('dpkg-deb', ['-x', deb, extracted])
  // This machine has merged /usr (/lib -> usr/lib): put the package's /lib where it will land.
  for (const top of ['lib', 'bin', 'sbin']) {
    const from = join(extracted, top)
    if (!existsSync(from)) continue
    if (!lstatSync(`/${top}`).isSymbolicLink()) return 'unsupported'
    cpSync(from, join(extracted, 'usr', top), { recursive: true })
    rmSync(from, { recursive: true })
  }
  const merged = (path: string) => path.replace(/^\/(lib|bin|sbin)\//, '/usr/$1/')
  const system = unitsIn(join(extracted, merged(systemUnitDir)))
  const user = unitsIn(join(extracted, userUnitDir))
  const runtime = join(work, 'runtime')
  mkdirSync(runtime, { mode: 0o700 })
  const command = [
    // 99: the namespace or the overlay could not be had (not a verdict on the units).
    'mount --make-rprivate / && mount -t overlay overlay -o "lowerdir=$0/usr:/usr" /usr || exit 99',
    'status=0',
    'if [ -n "$SYSTEM_UNITS" ]; then systemd-analyze verify $SYSTEM_UNITS || status=$?; fi',
    'if [ -n "$USER_UNITS" ]; then XDG_RUNTIME_DIR="$RUNTIME" systemd-analyze --user verify $USER_UNITS || status=$?; fi',
    'exit $status',
  ].join('\n')
  const run = spawnSync('unshare', ['--mount', '--', 'sh', '-c', command, extracted], {
    encoding: 'utf8',
    env: { ...process.env, SYSTEM_UNITS: system.join(' '), USER_UNITS: user.join(' '), RUNTIME: runtime },
    timeout: 90_000,
  })
  if (run.status === 99 || run.error) return 'unsupported'
  return { units: [...system, ...user], code: run.status, output: `${run.stdout}${run.stderr}`.trim() }
}
