/**
 * The state functions the formula may use and the arguments each takes, as Salt's state
 * modules and Qubes' qvm module (qubes-mgmt-salt-dom0-qvm) define them. A state calling
 * anything else, or passing an argument not listed, fails the test before it fails in dom0.
 */

/** Requisites Salt takes on every state; their targets are checked separately. */
export const REQUISITES = [
  'require',
  'require_in',
  'require_any',
  'watch',
  'watch_in',
  'watch_any',
  'onchanges',
  'onchanges_in',
  'onchanges_any',
  'onfail',
  'onfail_in',
  'onfail_any',
  'onfail_all',
  'prereq',
  'prereq_in',
  'use',
  'use_in',
  'listen',
  'listen_in',
] as const

/** Arguments Salt's state system takes on every state. */
export const GLOBAL_ARGUMENTS = [
  'name',
  'names',
  'order',
  'failhard',
  'onlyif',
  'unless',
  'check_cmd',
  'retry',
  'fire_event',
  'reload_modules',
]

/** qvm-create options of qvm.present / qvm.vm `present` (module function qvm.create). */
export const QVM_CREATE = ['template', 'label', 'class', 'mem', 'vcpus', 'root-move-from', 'root-copy-from', 'flags']

/** qvm.prefs properties: the argparse option strings of the module, spelled as it accepts them. */
export const QVM_PREFS = [
  'autostart',
  'debug',
  'default-user',
  'default_user',
  'default-dispvm',
  'default_dispvm',
  'management-dispvm',
  'management_dispvm',
  'guivm',
  'audiovm',
  'template-for-dispvms',
  'template_for_dispvms',
  'dispvm-allowed',
  'virt-mode',
  'virt_mode',
  'label',
  'last-backup',
  'last_backup',
  'include-in-backups',
  'include_in_backups',
  'installed-by-rpm',
  'installed_by_rpm',
  'ip',
  'kernel',
  'kernelopts',
  'mac',
  'maxmem',
  'memory',
  'netvm',
  'pci-strictreset',
  'pci_strictreset',
  'pcidevs',
  'provides-network',
  'template',
  'qrexec-timeout',
  'qrexec_timeout',
  'updateable',
  'vcpus',
]

/** Value type each property must have in YAML so that the module's comparison with the current value holds. */
export const QVM_PREF_TYPES: Record<string, 'boolean' | 'integer' | 'qube' | 'label' | 'string'> = {
  autostart: 'boolean',
  debug: 'boolean',
  'template-for-dispvms': 'boolean',
  'include-in-backups': 'boolean',
  'provides-network': 'boolean',
  memory: 'integer',
  maxmem: 'integer',
  vcpus: 'integer',
  'qrexec-timeout': 'integer',
  netvm: 'qube',
  'default-dispvm': 'qube',
  'management-dispvm': 'qube',
  guivm: 'qube',
  audiovm: 'qube',
  template: 'qube',
  label: 'label',
  kernel: 'string',
  kernelopts: 'string',
  'virt-mode': 'string',
  'default-user': 'string',
}

export const QUBES_LABELS = ['red', 'orange', 'yellow', 'green', 'gray', 'blue', 'purple', 'black']

export const QVM_SERVICE = ['enable', 'disable', 'default', 'list']
export const QVM_FEATURES = ['enable', 'disable', 'default', 'set', 'list']
export const QVM_TAGS = ['add', 'del', 'present', 'absent', 'list']

/** qvm.vm actions (its `actions` keyword orders them) and the options each passes on. */
export const QVM_VM_ACTIONS: Record<string, readonly string[]> = {
  exists: ['flags'],
  missing: ['flags'],
  running: [],
  halted: [],
  present: QVM_CREATE,
  absent: ['flags'],
  clone: ['source', 'path', 'flags'],
  prefs: QVM_PREFS,
  devices: ['attach', 'detach', 'list'],
  service: QVM_SERVICE,
  features: QVM_FEATURES,
  firewall: ['set', 'list'],
  tags: QVM_TAGS,
  unpause: [],
  pause: [],
  shutdown: ['exclude', 'flags'],
  kill: [],
  start: ['drive', 'hddisk', 'cdrom', 'custom-config', 'flags'],
  run: ['cmd', 'user', 'exclude', 'localcmd', 'color-output', 'flags'],
}

/** Every state function the test knows, with its own arguments (GLOBAL_ARGUMENTS and requisites come on top). */
export const STATE_FUNCTIONS: Record<string, readonly string[]> = {
  'qvm.vm': ['actions', ...Object.keys(QVM_VM_ACTIONS)],
  'qvm.present': QVM_CREATE,
  'qvm.prefs': QVM_PREFS,
  'qvm.service': QVM_SERVICE,
  'qvm.features': QVM_FEATURES,
  'qvm.tags': QVM_TAGS,
  'qvm.template_installed': ['fromrepo', 'pool'],
  'file.managed': [
    'source',
    'source_hash',
    'user',
    'group',
    'mode',
    'attrs',
    'template',
    'makedirs',
    'dir_mode',
    'context',
    'replace',
    'defaults',
    'backup',
    'show_changes',
    'create',
    'contents',
    'contents_pillar',
    'contents_newline',
    'allow_empty',
    'follow_symlinks',
    'check_cmd',
    'skip_verify',
    'tmp_ext',
    'encoding',
  ],
  'pkg.installed': [
    'version',
    'refresh',
    'fromrepo',
    'skip_verify',
    'skip_suggestions',
    'pkgs',
    'sources',
    'allow_updates',
    'pkg_verify',
    'normalize',
    'ignore_epoch',
    'reinstall',
    'update_holds',
    'hold',
    'install_recommends',
    'only_upgrade',
  ],
  // The arguments the formula passes; stdin goes through to cmd.run_all, as Salt's cmd state does.
  'cmd.run': [
    'cwd',
    'runas',
    'shell',
    'env',
    'stdin',
    'timeout',
    'output_loglevel',
    'hide_output',
    'success_retcodes',
    'stateful',
  ],
  'test.fail_without_changes': ['comment'],
  'test.succeed_without_changes': ['comment'],
}

/**
 * Functions that converge: each compares the wanted value with the current one and changes
 * only what differs, so applying twice changes nothing. qvm.vm qualifies with these actions.
 */
export const CONVERGENT_FUNCTIONS = [
  'qvm.vm',
  'qvm.prefs',
  'qvm.features',
  'qvm.tags',
  'qvm.service',
  'qvm.template_installed',
  'file.managed',
  'pkg.installed',
  'test.fail_without_changes',
]
export const CONVERGENT_QVM_ACTIONS = ['present', 'prefs', 'service', 'features', 'tags']
