import { readlink } from 'node:fs/promises'
import { dirname, isAbsolute, resolve } from 'node:path'
import { errorMessage } from '../../rpc/errors'
import type { AgentContext } from '../context'
import { pathKind, readFileThrough } from '../fs/resolve'
import { familyOf, readSavedAddress } from '../replace-ips/saved'
import type { Role } from '../role'
import {
  checkHostname,
  checkHosts,
  checkLocaltimeLink,
  checkResolver,
  checkTimezone,
  type ContentProblem,
} from './expected'
import type { ContentKind } from './manifest'
import { listedIn, protectedPaths } from './rule'
import { scanListDirectories, type ListScan } from './scan'

/** The answer of `protected-files check` and the `protectedFiles` field of `status`. */
export interface ProtectedFileReport {
  readonly path: string
  /** The content check that applies (from the manifest entry of its base file). */
  readonly kind: ContentKind
  /** A suffixed copy (`.anondist`, ...) rather than the file Qubes itself writes. */
  readonly variant: boolean
  readonly exists: 'file' | 'symlink' | 'directory' | 'other' | 'missing'
  readonly protected: boolean
  /** The list files naming it (system paths). */
  readonly listedIn: readonly string[]
  readonly content: 'expected' | 'unexpected' | 'unreadable' | 'missing' | 'not-checked'
  readonly detail?: string
}

export interface ProtectedFilesReport {
  /** Only Whonix qubes keep these files; elsewhere content is not checked. */
  readonly applicable: boolean
  readonly listDirectories: ListScan['directories']
  readonly files: readonly ProtectedFileReport[]
  readonly problems: readonly string[]
  /** `ok`: every file protected and every present file as Whonix expects it. */
  readonly verdict: 'ok' | 'problems' | 'not-applicable'
}

type Check = (rooted: string, systemPath: string) => Promise<ContentProblem>

/** The resolvers this role's resolv.conf may name. */
async function allowedResolvers(context: AgentContext, role: Role): Promise<string[]> {
  if (role.whonix === 'gateway') return [...context.manifest.protectedFiles.expected.gatewayNameservers]
  const gatewayEntries = context.manifest.replaceIps.workstation.addresses.filter((entry) =>
    entry.default.startsWith('gateway'),
  )
  const allowed = new Set<string>()
  for (const entry of gatewayEntries) {
    const fallback = context.manifest.whonix.addresses[entry.default]
    allowed.add(fallback)
    const saved = await readSavedAddress(context, entry.saved, familyOf(fallback))
    if (saved.state === 'present') allowed.add(saved.address)
    const current = await context.qubesdb.read(entry.qubesdb)
    if (current.state === 'present') allowed.add(current.value)
  }
  return [...allowed]
}

async function contentChecks(context: AgentContext, role: Role): Promise<Record<ContentKind, Check>> {
  const expected = context.manifest.protectedFiles.expected
  const maxBytes = context.manifest.protectedFiles.maxFileBytes
  const resolvers = await allowedResolvers(context, role)
  const text = async (rooted: string) =>
    (await readFileThrough(rooted, { root: context.paths.root, maxBytes }))?.content.toString('latin1') ?? ''
  return {
    hostname: async (rooted) => checkHostname(await text(rooted), expected.hostname),
    hosts: async (rooted) => checkHosts(await text(rooted), expected.loopbackNames, role.name),
    timezone: async (rooted) => checkTimezone(await text(rooted), expected.timeZones),
    resolver: async (rooted) => checkResolver(await text(rooted), resolvers),
    localtime: async (rooted, systemPath) => {
      if ((await pathKind(rooted)) === 'symlink') {
        const target = await readlink(rooted)
        return checkLocaltimeLink(
          isAbsolute(target) ? target : resolve(dirname(systemPath), target),
          expected.zoneinfoDirectory,
          expected.timeZones,
        )
      }
      const content = await readFileThrough(rooted, { root: context.paths.root, maxBytes })
      for (const zone of expected.timeZones) {
        const zoneFile = await readFileThrough(context.paths.under(`${expected.zoneinfoDirectory}/${zone}`), {
          root: context.paths.root,
          maxBytes,
        }).catch(() => null)
        if (zoneFile !== null && content !== null && zoneFile.content.equals(content.content)) return null
      }
      return `is a file that matches none of ${expected.timeZones.map((zone) => `${expected.zoneinfoDirectory}/${zone}`).join(', ')}`
    },
  }
}

export async function checkProtectedFiles(context: AgentContext, role: Role): Promise<ProtectedFilesReport> {
  const section = context.manifest.protectedFiles
  const scan = await scanListDirectories(
    section.listDirectories.map((path) => ({ path, rooted: context.paths.under(path) })),
    { ignoredEndings: section.ignoredEndings, maxFileBytes: section.maxFileBytes, maxListFiles: section.maxListFiles },
  )
  const applicable = role.whonix !== null
  const checks = applicable ? await contentChecks(context, role) : null
  const files: ProtectedFileReport[] = []
  for (const { path, base } of protectedPaths(Object.keys(section.files), section.variantSuffixes)) {
    const kind = section.files[base] as ContentKind
    const rooted = context.paths.under(path)
    const lists = listedIn(path, scan.lists)
    const common = { path, kind, variant: path !== base, protected: lists.length > 0, listedIn: lists }
    let exists: ProtectedFileReport['exists']
    try {
      exists = await pathKind(rooted)
    } catch (error) {
      files.push({ ...common, exists: 'other', content: 'unreadable', detail: errorMessage(error) })
      continue
    }
    if (exists === 'missing') files.push({ ...common, exists, content: 'missing' })
    else if (checks === null) files.push({ ...common, exists, content: 'not-checked' })
    else {
      try {
        const problem = await checks[kind](rooted, path)
        files.push({
          ...common,
          exists,
          content: problem === null ? 'expected' : 'unexpected',
          ...(problem === null ? {} : { detail: problem }),
        })
      } catch (error) {
        files.push({ ...common, exists, content: 'unreadable', detail: errorMessage(error) })
      }
    }
  }
  const bad = files.some((file) => !file.protected || file.content === 'unexpected' || file.content === 'unreadable')
  const verdict = !applicable ? 'not-applicable' : bad || scan.problems.length > 0 ? 'problems' : 'ok'
  return { applicable, listDirectories: scan.directories, files, problems: scan.problems, verdict }
}
