import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { shippedManifest } from '../../../agent/features'
import { buildSimulatedQube, writeQubesdbData } from '../../../agent/simulate/build'
import { PROFILES, type ProfileName } from '../../../agent/simulate/profiles'
import { tempRoot } from '../../helpers/sandbox'

export const manifest = shippedManifest()

/** The accounts of the simulated qube's passwd file (uids free on the test machine). */
export const UIDS = {
  root: 0,
  'debian-tor': 4102,
  clearnet: 4103,
  tunnel: 4104,
  user: 4105,
  systemcheck: 4106,
  sdwdate: 4107,
  updatesproxycheck: 4108,
  'vm-updates': 4109,
  notunnel: 4110,
} as const

export interface QubeOptions {
  /** File name -> content, in the first drop-in folder (/etc/whonix_firewall.d). */
  readonly dropIns?: Readonly<Record<string, string>>
  readonly qubesdb?: Readonly<Record<string, string>>
  readonly accounts?: Readonly<Record<string, number>>
}

/** A simulated qube (in `into`, else a temporary root removed after the test) with a passwd file and firewall drop-ins, ready for `firewall` commands. */
export async function firewallQube(profile: ProfileName, options: QubeOptions = {}, into?: string): Promise<string> {
  const root = into ?? (await tempRoot('qwa-fw-'))
  await buildSimulatedQube(root, PROFILES[profile], manifest)
  if (options.qubesdb)
    await writeQubesdbData(join(root, manifest.paths.simulatedQubesdb), {
      ...PROFILES[profile].qubesdb,
      ...options.qubesdb,
    })
  const accounts = options.accounts ?? UIDS
  await mkdir(join(root, 'etc'), { recursive: true })
  await writeFile(
    join(root, manifest.firewall.passwd),
    Object.entries(accounts)
      .map(([name, uid]) => `${name}:x:${uid}:${uid}::/nonexistent:/bin/false\n`)
      .join(''),
  )
  const dir = join(root, manifest.firewall.dropInDirs[0] ?? '/etc/whonix_firewall.d')
  await mkdir(dir, { recursive: true, mode: 0o755 })
  await chmod(dir, 0o755)
  for (const [name, content] of Object.entries(options.dropIns ?? {}))
    await writeFile(join(dir, name), content, { mode: 0o644 })
  return root
}

/** The agent's context over a simulated qube, as the CLI builds it. */
export async function qubeContext(root: string) {
  const { createContext } = await import('../../../agent/context')
  return createContext({ root, manifest })
}

/** The plan `firewall show` prints for a simulated qube with these drop-ins. */
export async function planFor(profile: ProfileName, dropIns: Readonly<Record<string, string>> = {}, mode?: string) {
  const { planFirewall } = await import('../../../agent/firewall/plan')
  const { currentRole } = await import('../../../agent/role')
  const context = await qubeContext(await firewallQube(profile, { dropIns }))
  return planFirewall(context, await currentRole(context), mode === undefined ? {} : { mode })
}
