import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { COMMANDS, generatedFiles, shippedManifest } from '../agent/features'
import { rootPath } from '../agent/paths'
import { renderChangelog } from './changelog'
import { nodejsRelation, renderControl } from './control'
import { renderCopyright } from './copyright'
import { bundledPackageDirs, describeBundled } from './bundled'
import { helpDescription, helpSections, type HelpEntry } from './help-text'
import { lintianOverrides } from './lintian'
import { maintainerScripts, planDiversions } from './maintainer-scripts'
import { renderManPage } from './man-page'
import { AGENT, agentPackage, MAINTAINER, METAPACKAGES, SOURCE } from './packages'
import { mustRun } from './run'
import { MODES_FILE, modesFile, renderRules, STAGED_TREE, systemUnits } from './rules'
import { listTree } from './tree'

/**
 * `npm run package`: stages every installed file (the bundle's `files write`, plus the bundle
 * itself), writes the debian/ directory, and builds the .debs with dpkg-buildpackage.
 * Usage (scripts/package.mjs runs it from the repository): package-tool.mjs --out DIR
 * --bundle FILE --metafile FILE (esbuild's record of that bundle) --work DIR (made afresh).
 */

const REPO = process.cwd()
// The interpreter Debian's nodejs installs: not whatever `node` comes first on PATH.
const SHEBANG = '#!/usr/bin/node'

interface Options {
  readonly out: string
  readonly bundle: string
  readonly metafile: string
  readonly work: string
}

interface ProjectJson {
  readonly version: string
  readonly license: string
  readonly description: string
  readonly engines: { readonly node: string }
}

function parseArgs(argv: readonly string[]): Options {
  const value = (name: string) => {
    const index = argv.indexOf(name)
    const found = index >= 0 ? argv[index + 1] : undefined
    if (!found)
      throw new Error(`usage: package-tool --out DIR --bundle FILE --metafile FILE --work DIR (missing ${name})`)
    return resolve(found)
  }
  return { out: value('--out'), bundle: value('--bundle'), metafile: value('--metafile'), work: value('--work') }
}

async function help(bundle: string, args: readonly string[]): Promise<string> {
  return (await mustRun({ argv: [process.execPath, bundle, ...args, '--help'] })).stdout
}

async function commitTime(): Promise<number> {
  const fromEnv = process.env.SOURCE_DATE_EPOCH
  if (fromEnv && /^\d+$/.test(fromEnv)) return Number(fromEnv)
  const git = await mustRun({ argv: ['git', 'log', '-1', '--format=%ct'], cwd: REPO }).catch(() => null)
  return git && /^\d+$/.test(git.stdout.trim()) ? Number(git.stdout.trim()) : Math.floor(Date.now() / 1000)
}

async function manPage(
  bundle: string,
  project: ProjectJson,
  date: string,
  files: readonly { path: string; purpose: string }[],
) {
  const top = await help(bundle, [])
  const globals = helpSections(top).get('Options') ?? []
  const globalNames = new Set(globals.map((entry) => entry.name))
  const commands = await Promise.all(
    Object.entries(COMMANDS).map(async ([word, load]) => {
      const command = await load()
      const sections = helpSections(await help(bundle, [word]))
      const own = (name: string): HelpEntry[] =>
        (sections.get(name) ?? []).filter((entry) => !globalNames.has(entry.name))
      const usage = Array.isArray(command.command) ? String(command.command[0]) : String(command.command)
      return { usage, describe: command.describe, entries: [...own('Positionals'), ...own('Options')] }
    }),
  )
  return renderManPage({
    name: AGENT,
    version: project.version,
    date,
    summary: helpDescription(top) || project.description,
    description: project.description,
    commands,
    options: globals,
    files,
  })
}

async function writeTree(base: string, files: Readonly<Record<string, string>>, executable: ReadonlySet<string>) {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(base, path)), { recursive: true })
    await writeFile(join(base, path), content)
    await chmod(join(base, path), executable.has(path) ? 0o755 : 0o644)
  }
}

async function main(options: Options): Promise<void> {
  const project = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as ProjectJson
  const manifest = shippedManifest()
  const files = await generatedFiles(manifest)
  const time = await commitTime()
  const source = join(options.work, `${SOURCE}-${project.version}`)
  const root = join(source, STAGED_TREE)
  await rm(options.work, { recursive: true, force: true })
  await mkdir(root, { recursive: true })

  // Every installed file: the shipped program's own `files write`, then the program itself.
  await mustRun({ argv: [process.execPath, options.bundle, 'files', 'write', root] })
  const bundleTarget = rootPath(root, manifest.packaging.bundle)
  await mkdir(dirname(bundleTarget), { recursive: true })
  const program = await readFile(options.bundle, 'utf8')
  await writeFile(bundleTarget, program.replace(/^#!.*\n/, `${SHEBANG}\n`))
  await chmod(bundleTarget, 0o755)

  const expected = [...files.map((file) => file.path), manifest.packaging.bundle].sort()
  const staged = (await listTree(root)).map((entry) => entry.path).sort()
  if (JSON.stringify(staged) !== JSON.stringify(expected))
    throw new Error(
      `the staged tree differs from the registry:\nstaged: ${staged.join(' ')}\nregistry: ${expected.join(' ')}`,
    )

  const diversions = planDiversions(manifest.packaging.diversions, manifest.packaging.displaceSuffix, new Set(expected))
  // A file we take over from another package: we ship ours beside its path, never the path
  // itself (that would clash with the package owning it); postinst diverts the path and links
  // it to ours, prerm undoes both (maintainer-scripts.ts).
  for (const diversion of diversions) {
    if (diversion.ours) await rename(rootPath(root, diversion.path), rootPath(root, diversion.ours))
  }

  const agent = agentPackage([nodejsRelation(project.engines.node)])
  const date = new Date(time * 1000).toISOString().slice(0, 10)
  const scripts = maintainerScripts(AGENT, diversions, { bundle: manifest.packaging.bundle })
  const bundled = await describeBundled(
    REPO,
    bundledPackageDirs(
      JSON.parse(await readFile(options.metafile, 'utf8')) as Parameters<typeof bundledPackageDirs>[0],
    ),
  )
  const man = `man/${AGENT}.1`
  const debian: Record<string, string> = {
    'debian/control': renderControl({ name: SOURCE, maintainer: MAINTAINER, section: 'admin' }, [
      agent,
      ...METAPACKAGES,
    ]),
    'debian/changelog': renderChangelog({
      source: SOURCE,
      version: project.version,
      maintainer: MAINTAINER,
      time,
      changes: ['Built from the qubes-whonix-agent source tree (npm run package).'],
    }),
    'debian/copyright': renderCopyright({
      source: SOURCE,
      project: {
        copyright: `${new Date(time * 1000).getUTCFullYear()} qubes-whonix-agent maintainers`,
        license: project.license,
      },
      bundlePath: manifest.packaging.bundle,
      bundled,
    }),
    'debian/rules': renderRules(AGENT, systemUnits(files, manifest.systemd.unitDirectory)),
    'debian/source/format': '3.0 (native)\n',
    [`debian/${AGENT}.postinst`]: scripts.postinst,
    [`debian/${AGENT}.prerm`]: scripts.prerm,
    [`debian/${AGENT}.postrm`]: scripts.postrm,
    [`debian/${AGENT}.manpages`]: `${man}\n`,
    [`debian/${AGENT}.lintian-overrides`]: lintianOverrides(manifest, files),
    [MODES_FILE]: modesFile(files),
    [man]: await manPage(
      options.bundle,
      project,
      date,
      files.map(({ path, purpose }) => ({ path, purpose })),
    ),
  }
  const executable = new Set([
    'debian/rules',
    ...['postinst', 'prerm', 'postrm'].map((script) => `debian/${AGENT}.${script}`),
  ])
  await writeTree(source, debian, executable)

  await mustRun({
    argv: ['dpkg-buildpackage', '--build=binary', '--no-sign'],
    cwd: source,
    env: { SOURCE_DATE_EPOCH: String(time), DEB_BUILD_OPTIONS: 'noautodbgsym' },
  })
  await mkdir(options.out, { recursive: true })
  const built = (await readdir(options.work)).filter((name) => name.endsWith('.deb'))
  for (const name of await readdir(options.out)) if (name.endsWith('.deb')) await rm(join(options.out, name))
  for (const name of built) await copyFile(join(options.work, name), join(options.out, name))
  process.stdout.write(`${built.map((name) => join(options.out, name)).join('\n')}\n`)
}

await main(parseArgs(process.argv.slice(2)))
