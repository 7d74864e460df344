import { literal, object } from './manifest/check'
import { pathsSection, qubesSection, whonixSection } from './manifest/schema'
import { servicesSection } from './manifest/services'
import { aptGateSection } from './apt-gate/manifest'
import { stackedTorSection } from './stacked-tor/manifest'
import { gatewayInterfaceSection } from './gateway-interface/manifest'
import { packagingSection } from './packaging/manifest'
import { protectedFilesSection } from './protected-files/manifest'
import { replaceIpsSection } from './replace-ips/manifest'
import { systemdSection } from './systemd/manifest'
import { torSection } from './tor/manifest'
import { updatesProxySection } from './updates-proxy/manifest'
import { firewallSection } from './firewall/manifest'
import { torPortsSection } from './tor-ports/manifest'
import { torSettingsSection } from './tor-settings/manifest'

/**
 * qubes.yaml: one checker per top-level section. Part of the composition root
 * (agent/features.ts), in a file of its own so that the build checks qubes.yaml against it
 * without loading the features' code.
 */
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
  torPorts: torPortsSection,
  firewall: firewallSection,
  systemd: systemdSection,
  stackedTor: stackedTorSection,
  packaging: packagingSection,
  torSettings: torSettingsSection,
})
