import type { CommandTable } from './cli'
import type { AgentCommand } from './commands/command'
import type { DaemonPart } from './daemon/parts'
import type { FileGenerator, GeneratedFile } from './generated/file'
import { collectGeneratedFiles } from './generated/registry'
import { literal, object } from './manifest/check'
import { checkShippedManifest, parseManifestWith, readManifest } from './manifest/load'
import { pathsSection, qubesSection, whonixSection, type Manifest } from './manifest/schema'
import { servicesSection } from './manifest/services'
import type { HandlerFactory } from './services/environment'
import { aptGateFiles } from './apt-gate/files'
import { aptGateSection } from './apt-gate/manifest'
import { stackedTorSection } from './stacked-tor/manifest'
import { stackedTorPart } from './stacked-tor/part'
import { gatewayInterfaceSection } from './gateway-interface/manifest'
import { gatewayInterfaceUnit } from './gateway-interface/unit'
import { packagingFiles } from './packaging/files'
import { packagingSection } from './packaging/manifest'
import { protectedFilesList } from './protected-files/list-file'
import { protectedFilesSection } from './protected-files/manifest'
import { qrexecFiles } from './qrexec-files/files'
import { replaceIpsSection } from './replace-ips/manifest'
import { replaceIpsUnit } from './replace-ips/unit'
import { roleService } from './role/service'
import { setDateTimeService } from './clock/set-date-time'
import { statusService } from './status/service'
import { syncNtpClockService } from './clock/sync-ntp-clock'
import { systemdSection } from './systemd/manifest'
import { torSection } from './tor/manifest'
import { torBrowserProfile } from './tor-state/profile'
import { updatesProxyFiles } from './updates-proxy/files'
import { updatesProxySection } from './updates-proxy/manifest'
import { updatesProxyCheckService } from './updates-check/recheck'
import { updatesProxyService, updatesProxyStatusService } from './updates-bridge/services'

/*
 * The composition root: the one file that names the features. The infrastructure
 * (manifest/, generated/, daemon/, services/registry.ts, cli.ts) receives these lists and
 * never imports a feature. Adding a feature is one line in each list it contributes to.
 */

/** qubes.yaml: one checker per top-level section. */
export const manifestSchema = object({
  schema: literal(1),
  paths: pathsSection,
  qubes: qubesSection,
  whonix: whonixSection,
  updatesProxy: updatesProxySection,
  tor: torSection,
  services: servicesSection,
  aptGate: aptGateSection,
  protectedFiles: protectedFilesSection,
  replaceIps: replaceIpsSection,
  gatewayInterface: gatewayInterfaceSection,
  systemd: systemdSection,
  stackedTor: stackedTorSection,
  packaging: packagingSection,
})

/** The files the package installs (systemd units, qrexec links, APT hook...), one generator per feature. */
export const GENERATORS: readonly FileGenerator[] = [
  torBrowserProfile,
  qrexecFiles,
  packagingFiles,
  aptGateFiles,
  updatesProxyFiles,
  protectedFilesList,
  replaceIpsUnit,
  gatewayInterfaceUnit,
]

/** Long-running parts of the daemon that are not qrexec services. */
export const PARTS: readonly DaemonPart[] = [stackedTorPart]

/** Handler name (the `handler:` of a service in qubes.yaml) -> its factory. */
export const HANDLERS: Readonly<Record<string, HandlerFactory>> = {
  role: roleService,
  status: statusService,
  'set-date-time': setDateTimeService,
  'sync-ntp-clock': syncNtpClockService,
  'updates-proxy': updatesProxyService,
  'updates-proxy-status': updatesProxyStatusService,
  'updates-proxy-check': updatesProxyCheckService,
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
  'protected-files': async () => (await import('./commands/protected-files')).protectedFilesCommand as AgentCommand<never>,
  'replace-ips': async () => (await import('./commands/replace-ips')).replaceIpsCommand as AgentCommand<never>,
  'gateway-interface': async () => (await import('./commands/gateway-interface')).gatewayInterfaceCommand as AgentCommand<never>,
  'updates-proxy': async () => (await import('./commands/updates-proxy')).updatesProxyCommand as AgentCommand<never>,
  'apt-gate': async () => (await import('./commands/apt-gate')).aptGateCommand as AgentCommand<never>,
  daemon: async () => (await import('./commands/daemon')).daemonCommand as AgentCommand<never>,
  'rpc-call': async () => (await import('./commands/rpc-call')).rpcCallCommand as AgentCommand<never>,
  'rpc-exec': async () => (await import('./commands/rpc-exec')).rpcExecCommand as AgentCommand<never>,
}

/** Parses and validates manifest text; every error names the file, the line and what is wrong. */
export const parseManifest = (text: string, fileName: string): Promise<Manifest> => parseManifestWith(manifestSchema, text, fileName)

/** The manifest built into the program (qubes.yaml, pre-parsed at build time). */
export const shippedManifest = (): Manifest => checkShippedManifest(manifestSchema)

/** The manifest from `--config FILE`, or the one built into the program. */
export const loadManifest = (file?: string): Promise<Manifest> => readManifest(manifestSchema, file)

/** Every file the package installs, sorted by path; two generators producing one path is an error. */
export const generatedFiles = (manifest: Manifest): GeneratedFile[] => collectGeneratedFiles(manifest, GENERATORS)

/** What runCli hands every command (commands never import this file: it loads them). */
export const FEATURES = { commands: COMMANDS, handlers: HANDLERS, parts: PARTS, loadManifest, generatedFiles }
