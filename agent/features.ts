import type { CommandTable } from './cli'
import type { AgentCommand } from './commands/command'
import type { DaemonPart } from './daemon/parts'
import type { FileGenerator, GeneratedFile } from './generated/file'
import { collectGeneratedFiles } from './generated/registry'
import { parseManifestWith, readManifest, shippedManifestCopy } from './manifest/load'
import { manifestSchema } from './manifest-schema'
import type { Manifest } from './manifest/schema'
import type { HandlerTable } from './services/environment'
import type * as UpdatesBridge from './updates-bridge/services'

/*
 * The composition root: the one file that names the features. The infrastructure
 * (manifest/, generated/, daemon/, services/registry.ts, cli.ts) receives these lists and
 * never imports a feature. Adding a feature is one line in each list it contributes to.
 *
 * Every entry is a dynamic import: the bundle evaluates a feature's modules (and the Node
 * modules they need) only when something uses them, so `role` does not pay for the daemon's
 * parts or the updates bridge (docs/performance.md).
 */

/** The files the package installs (systemd units, qrexec links, APT hook...), one generator per feature. */
export const GENERATORS: readonly (() => Promise<FileGenerator>)[] = [
  async () => (await import('./tor-state/profile')).torBrowserProfile,
  async () => (await import('./qrexec-files/files')).qrexecFiles,
  async () => (await import('./packaging/files')).packagingFiles,
  async () => (await import('./apt-gate/files')).aptGateFiles,
  async () => (await import('./updates-proxy/files')).updatesProxyFiles,
  async () => (await import('./updates-gate/files')).updatesGateFiles,
  async () => (await import('./protected-files/list-file')).protectedFilesList,
  async () => (await import('./replace-ips/unit')).replaceIpsUnit,
  async () => (await import('./gateway-interface/unit')).gatewayInterfaceUnit,
  async () => (await import('./firewall/unit')).firewallUnit,
]

/** Long-running parts of the daemon that are not qrexec services. */
export const PARTS: readonly (() => Promise<DaemonPart>)[] = [
  async () => (await import('./stacked-tor/part')).stackedTorPart,
  async () => (await import('./updates-gate/part')).updatesGatePart,
]

// Set once the updates bridge's handlers are loaded: only they open the shared Tor connections.
let updatesBridge: typeof UpdatesBridge | undefined
const loadUpdatesBridge = async () => (updatesBridge ??= await import('./updates-bridge/services'))

/** Handler name (the `handler:` of a service in qubes.yaml) -> its factory. */
export const HANDLERS: HandlerTable = {
  role: async () => (await import('./role/service')).roleService,
  status: async () => (await import('./status/service')).statusService,
  'set-date-time': async () => (await import('./clock/set-date-time')).setDateTimeService,
  'sync-ntp-clock': async () => (await import('./clock/sync-ntp-clock')).syncNtpClockService,
  'updates-proxy': async () => (await loadUpdatesBridge()).updatesProxyService,
  'updates-proxy-status': async () => (await loadUpdatesBridge()).updatesProxyStatusService,
  'updates-proxy-check': async () => (await import('./updates-check/recheck')).updatesProxyCheckService,
  tor: async () => (await import('./tor-settings/service')).torService,
}

/**
 * The commands, by name. Each module is loaded only when its command runs (or for --help),
 * so a command pays start-up time for its own dependencies alone.
 */
export const COMMANDS: CommandTable = {
  role: async () => (await import('./commands/role')).roleCommand as AgentCommand<never>,
  status: async () => (await import('./commands/status')).statusCommand as AgentCommand<never>,
  simulate: async () => (await import('./commands/simulate')).simulateCommand as AgentCommand<never>,
  files: async () => (await import('./commands/files')).filesCommand as AgentCommand<never>,
  'protected-files': async () =>
    (await import('./commands/protected-files')).protectedFilesCommand as AgentCommand<never>,
  'replace-ips': async () => (await import('./commands/replace-ips')).replaceIpsCommand as AgentCommand<never>,
  'gateway-interface': async () =>
    (await import('./commands/gateway-interface')).gatewayInterfaceCommand as AgentCommand<never>,
  firewall: async () => (await import('./commands/firewall')).firewallCommand as AgentCommand<never>,
  'updates-proxy': async () => (await import('./commands/updates-proxy')).updatesProxyCommand as AgentCommand<never>,
  'apt-gate': async () => (await import('./commands/apt-gate')).aptGateCommand as AgentCommand<never>,
  daemon: async () => (await import('./commands/daemon')).daemonCommand as AgentCommand<never>,
  'rpc-call': async () => (await import('./commands/rpc-call')).rpcCallCommand as AgentCommand<never>,
  'rpc-exec': async () => (await import('./commands/rpc-exec')).rpcExecCommand as AgentCommand<never>,
  tor: async () => (await import('./commands/tor')).torCommand as AgentCommand<never>,
}

export { manifestSchema }

/** Parses and validates manifest text; every error names the file, the line and what is wrong. */
export const parseManifest = (text: string, fileName: string): Promise<Manifest> =>
  parseManifestWith(manifestSchema, text, fileName)

/** The manifest built into the program (qubes.yaml, pre-parsed at build time). */
export const shippedManifest = (): Manifest => shippedManifestCopy<Manifest>()

/** The manifest from `--config FILE`, or the one built into the program. */
export const loadManifest = (file?: string): Promise<Manifest> => readManifest(manifestSchema, file)

/** Every file the package installs, sorted by path; two generators producing one path is an error. */
export const generatedFiles = async (manifest: Manifest): Promise<GeneratedFile[]> =>
  collectGeneratedFiles(manifest, await Promise.all(GENERATORS.map((load) => load())))

/** The daemon's long-running parts. */
export const loadParts = (): Promise<DaemonPart[]> => Promise.all(PARTS.map((load) => load()))

/** Frees what service handlers share across calls (the Tor readiness connections), once nothing is served any more. */
export const releaseShared = (): void => updatesBridge?.closeSharedTorMonitors()

/** What runCli hands every command (commands never import this file: it loads them). */
export const FEATURES = {
  commands: COMMANDS,
  handlers: HANDLERS,
  loadParts,
  loadManifest,
  generatedFiles,
  releaseShared,
}
