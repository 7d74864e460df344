// The Debian packages this project builds: the agent and the three recommended
// metapackages (dependencies as Whonix ships them, docs/qubes-facts.md (packages); descriptions ours).

export const SOURCE = 'qubes-whonix-agent'
export const MAINTAINER = 'qubes-whonix-agent maintainers <maintainers@users.noreply.r-seed-58633974.example>'
export const AGENT = 'qubes-whonix-agent'

export interface BinaryPackage {
  readonly name: string
  readonly section: string
  /** Relations after the generated ones (shlibs, misc); each entry may hold `a | b` alternatives. */
  readonly depends: readonly string[]
  readonly synopsis: string
  /** Paragraphs of the long description (filled to width when rendered). */
  readonly description: readonly string[]
}

/** The agent; `depends` are the relations the build works out (Debian's nodejs). */
export const agentPackage = (depends: readonly string[]): BinaryPackage => ({
  name: AGENT,
  section: 'admin',
  // procps: /bin/kill, which the daemon unit's ExecReload runs (minbase roots lack it).
  depends: [...depends, 'procps'],
  synopsis: 'Whonix integration for Qubes OS, in one typed program',
  description: [
    "It tells what kind of qube it runs in, proves that a Whonix template's updates go over Tor before apt may run, keeps Whonix's protected files, rewrites the Whonix addresses to the ones Qubes assigned, prevents Tor over Tor in workstations, and offers its facts to dom0 and other qubes as qrexec services.",
    'It replaces the shell and Python glue of qubes-whonix; where both are installed, its files take the place of the ones they replace (dpkg-divert), and removing it puts those back.',
  ],
})

const SAFE_TO_REMOVE = 'A convenience only: safe to remove if you know what you are doing.'

export const METAPACKAGES: readonly BinaryPackage[] = [
  {
    name: 'qubes-whonix-shared-packages-recommended',
    section: 'metapackages',
    depends: [
      'qubes-core-agent-passwordless-root | dummy-dependency',
      'qubes-kernel-vm-support',
      'initramfs-tools',
      'qubes-mgmt-salt-vm-connector',
      'qubes-usb-proxy',
      'qubes-input-proxy-sender',
      'qubes-core-agent-thunar',
      'qubes-core-agent-nautilus',
    ],
    synopsis: 'recommended Qubes packages for every Whonix qube',
    description: [
      'Pulls in the Qubes VM tools that a Qubes-Whonix Gateway or Workstation is expected to have: kernel and initramfs support, Salt management from dom0, the USB and input proxies, the file manager integrations, and root without a password (dummy-dependency satisfies that one for whoever wants root to keep its password).',
      SAFE_TO_REMOVE,
    ],
  },
  {
    name: 'qubes-whonix-gateway-packages-recommended',
    section: 'metapackages',
    depends: ['tinyproxy', 'yum', 'yum-utils', 'qubes-core-agent-dom0-updates'],
    synopsis: 'recommended packages for a Qubes-Whonix Gateway',
    description: [
      'Pulls in what lets a Whonix-Gateway serve as the updates qube of Whonix templates and of dom0: tinyproxy for the updates proxy (its traffic leaves through Tor), and the yum tools with Qubes dom0-update support for fetching dom0 updates.',
      SAFE_TO_REMOVE,
    ],
  },
  {
    name: 'qubes-whonix-workstation-packages-recommended',
    section: 'metapackages',
    depends: ['qubes-thunderbird', 'qubes-gpg-split', 'qubes-pdf-converter', 'qubes-img-converter', 'pulseaudio-qubes'],
    synopsis: 'recommended packages for a Qubes-Whonix Workstation',
    description: [
      'Pulls in the Qubes tools a Whonix-Workstation commonly uses: the Thunderbird integration and split GPG, the converters that make PDFs and images safe in a disposable qube, and sound through the Qubes audio daemon.',
      SAFE_TO_REMOVE,
    ],
  },
]
