/**
 * The qubes `simulate` can build: what Qubes and Whonix put on a real one of each kind,
 * as docs/qubes-facts.md lists it (what a qube exposes). Values are Qubes-style examples.
 */
export const PROFILE_NAMES = [
  'template-gateway',
  'template-workstation',
  'gateway',
  'workstation',
  'disposable-workstation',
  'plain-qube',
] as const
export type ProfileName = (typeof PROFILE_NAMES)[number]

export interface Profile {
  readonly description: string
  readonly qubesdb: Readonly<Record<string, string>>
  readonly typeMarker: 'template' | 'app' | 'net' | 'proxy' | null
  readonly persistence: 'full' | 'rw-only' | 'none'
  readonly whonix: 'gateway' | 'workstation' | null
  readonly services: readonly string[]
}

const gatewayNetwork = {
  '/qubes-ip': '10.137.0.8',
  '/qubes-gateway': '10.138.4.1',
  '/qubes-netmask': '255.255.255.255',
  '/qubes-primary-dns': '10.139.1.1',
  '/qubes-secondary-dns': '10.139.1.2',
  '/qubes-netvm-gateway': '10.137.0.8',
  '/qubes-netvm-netmask': '255.255.255.255',
  '/qubes-netvm-network': '10.137.0.8',
  '/qubes-netvm-primary-dns': '10.139.1.1',
  '/qubes-netvm-secondary-dns': '10.139.1.2',
}
const workstationNetwork = {
  '/qubes-ip': '10.137.0.21',
  '/qubes-gateway': '10.137.0.8',
  '/qubes-netmask': '255.255.255.255',
  '/qubes-primary-dns': '10.139.1.1',
  '/qubes-secondary-dns': '10.139.1.2',
}

export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  'template-gateway': {
    description: 'whonix-gateway-18, the Whonix-Gateway template',
    qubesdb: {
      '/name': 'whonix-gateway-18',
      '/type': 'TemplateVM',
      '/qubes-vm-type': 'TemplateVM',
      '/qubes-vm-persistence': 'full',
    },
    typeMarker: 'template',
    persistence: 'full',
    whonix: 'gateway',
    services: ['updates-proxy-setup'],
  },
  'template-workstation': {
    description: 'whonix-workstation-18, the Whonix-Workstation template',
    qubesdb: {
      '/name': 'whonix-workstation-18',
      '/type': 'TemplateVM',
      '/qubes-vm-type': 'TemplateVM',
      '/qubes-vm-persistence': 'full',
    },
    typeMarker: 'template',
    persistence: 'full',
    whonix: 'workstation',
    services: ['updates-proxy-setup'],
  },
  gateway: {
    description: 'sys-whonix, the Whonix-Gateway (ProxyVM)',
    qubesdb: {
      '/name': 'sys-whonix',
      '/type': 'AppVM',
      '/qubes-vm-type': 'ProxyVM',
      '/qubes-vm-persistence': 'rw-only',
      ...gatewayNetwork,
    },
    typeMarker: 'proxy',
    persistence: 'rw-only',
    whonix: 'gateway',
    services: ['qubes-updates-proxy', 'qubes-firewall', 'qubes-network'],
  },
  workstation: {
    description: 'anon-whonix, a Whonix-Workstation (AppVM)',
    qubesdb: {
      '/name': 'anon-whonix',
      '/type': 'AppVM',
      '/qubes-vm-type': 'AppVM',
      '/qubes-vm-persistence': 'rw-only',
      ...workstationNetwork,
    },
    typeMarker: 'app',
    persistence: 'rw-only',
    whonix: 'workstation',
    services: [],
  },
  'disposable-workstation': {
    description: 'disp4242, a disposable Whonix-Workstation',
    qubesdb: {
      '/name': 'disp4242',
      '/type': 'DispVM',
      '/qubes-vm-type': 'AppVM',
      '/qubes-vm-persistence': 'none',
      ...workstationNetwork,
      '/qubes-ip': '10.137.0.42',
    },
    typeMarker: null,
    persistence: 'none',
    whonix: 'workstation',
    services: [],
  },
  'plain-qube': {
    description: 'work, an ordinary Debian AppVM (no Whonix)',
    qubesdb: {
      '/name': 'work',
      '/type': 'AppVM',
      '/qubes-vm-type': 'AppVM',
      '/qubes-vm-persistence': 'rw-only',
      '/qubes-ip': '10.137.0.30',
      '/qubes-gateway': '10.138.4.1',
    },
    typeMarker: 'app',
    persistence: 'rw-only',
    whonix: null,
    services: [],
  },
}
