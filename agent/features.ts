import type { CommandTable } from './cli'
import type { AgentCommand } from './commands/command'
import type { DaemonPart } from './daemon/parts'
import type { FileGenerator, GeneratedFile } from './generated/file'
import { collectGeneratedFiles } from './generated/registry'
import { parseManifestWith, readManifest, shippedManifestCopy } from './manifest/load'
import { manifestSchema } from './manifest-schema'
import type { Manifest } from './manifest/schema'
import type { HandlerFactory } from './services/environment'
import { aptGateFiles } from './apt-gate/files'
import { stackedTorPart } from './stacked-tor/part'
import { gatewayInterfaceUnit } from './gateway-interface/unit'
import { packagingFiles } from './packaging/files'
import { protectedFilesList } from './protected-files/list-file'
import { qrexecFiles } from './qrexec-files/files'
import { replaceIpsUnit } from './replace-ips/unit'
import { roleService } from './role/service'
import { setDateTimeService } from './clock/set-date-time'
import { statusService } from './status/service'
import { syncNtpClockService } from './clock/sync-ntp-clock'
import { torBrowserProfile } from './tor-state/profile'
import { updatesProxyFiles } from './updates-proxy/files'
import { updatesProxyCheckService } from './updates-check/recheck'
import { closeSharedTorMonitors, updatesProxyService, updatesProxyStatusService } from './updates-bridge/services'
import { updatesGateFiles } from './updates-gate/files'
import { updatesGatePart } from './updates-gate/part'
import { firewallUnit } from './firewall/unit'
import { torService } from './tor-settings/service'

/*
 * The composition root: the one file that names the features. The infrastructure
 * (manifest/, generated/, daemon/, services/registry.ts, cli.ts) receives these lists and
 * never imports a feature. Adding a feature is one line in each list it contributes to.
 */

/** The files the package installs (systemd units, qrexec links, APT hook...), one generator per feature. */
export const GENERATORS: readonly FileGenerator[] = [
  torBrowserProfile,
  qrexecFiles,
  packagingFiles,
  aptGateFiles,
  updatesProxyFiles,
  updatesGateFiles,
  protectedFilesList,
  replaceIpsUnit,
  gatewayInterfaceUnit,
  firewallUnit,
]

/** Long-running parts of the daemon that are not qrexec services. */
export const PARTS: readonly DaemonPart[] = [stackedTorPart, updatesGatePart]

/** Handler name (the `handler:` of a service in qubes.yaml) -> its factory. */
export const HANDLERS: Readonly<Record<string, HandlerFactory>> = {
  role: roleService,
  status: statusService,
  'set-date-time': setDateTimeService,
  'sync-ntp-clock': syncNtpClockService,
  'updates-proxy': updatesProxyService,
  'updates-proxy-status': updatesProxyStatusService,
  'updates-proxy-check': updatesProxyCheckService,
  tor: torService,
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
export const generatedFiles = (manifest: Manifest): GeneratedFile[] => collectGeneratedFiles(manifest, GENERATORS)

/** Frees what service handlers share across calls (the Tor readiness connections), once nothing is served any more. */
export const releaseShared = (): void => closeSharedTorMonitors()

/** What runCli hands every command (commands never import this file: it loads them). */
export const FEATURES = {
  commands: COMMANDS,
  handlers: HANDLERS,
  parts: PARTS,
  loadManifest,
  generatedFiles,
  releaseShared,
}
