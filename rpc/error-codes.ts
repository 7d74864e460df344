/**
 * Every code a CodedError may carry, with what it means. Codes are stable: tests, JSON
 * answers (`{"ok":false,"error":{"code":...}}`) and scripts match on them. docs/errors.md
 * lists the same codes (test/rpc/error-codes.test.ts keeps the two equal).
 */
export const ERROR_CODES = {
  // The command line and the manifest
  USAGE: 'the command line is wrong (exit 2)',
  MANIFEST_INVALID:
    'qubes.yaml (or --config FILE) is not valid YAML or breaks the schema; the message names file, line and key',
  MANIFEST_UNREADABLE: 'the file given with --config cannot be read or is over 1 MiB',
  GENERATED_FILE_CLASH: 'two features generate the same installed file (a bug)',
  NO_SUCH_GENERATED_FILE: '`files show PATH` names no generated file',
  POLICY_INVALID: 'the dom0 policy generated from the manifest fails its own check (a bug or a bad manifest)',
  UNKNOWN_HANDLER: 'a service in the manifest names a handler the program does not have',

  // rpc/: serving qrexec services
  DESCRIPTOR_INVALID: 'the service descriptor qrexec-agent sent is malformed',
  DESCRIPTOR_TIMEOUT: 'no service descriptor arrived in time',
  INPUT_TOO_LARGE: "the caller's input is over the service's bound",
  CALL_TIMEOUT: 'the call took longer than its total bound',
  CALLER_GONE: 'the caller went away before the answer',
  BUSY: 'the service already has its maximum of open calls',
  SHUTTING_DOWN: 'the daemon is stopping and accepts no call',
  INTERNAL: "a handler failed in an unexpected way (a bug; see the serving qube's log)",
  ALREADY_SERVED: 'another process already listens on the service socket',
  LISTEN_FAILED: 'a service socket cannot be created or used',
  SOCKET_ACTIVATION_INVALID: 'systemd passed LISTEN_FDS/LISTEN_PID that do not fit',
  SERVICE_NOT_SERVED: "the service exists but this qube's role does not serve it",

  // rpc/: calling qrexec services
  RPC_BAD_SERVICE: 'the service name is not SERVICE or SERVICE+ARG in the qrexec character set',
  RPC_BAD_TARGET: 'the target is not a qube name or a qrexec keyword',
  RPC_REFUSED: 'the dom0 policy refused the call (exit 126)',
  RPC_SERVICE_NOT_FOUND: 'the target has no such service (exit 127)',
  RPC_QREXEC_FAILED: 'qrexec itself failed: no such qube, could not start it, connection lost (exit 125)',
  RPC_SERVICE_FAILED: 'the service ran and exited non-zero',
  RPC_TIMEOUT: 'no answer within the bound',
  RPC_ANSWER_TOO_LARGE: 'the answer is over its bound',
  RPC_SERVICE_UNAVAILABLE: 'no one listens on the local service socket (is the daemon running?)',
  RPC_FAILED: 'the local service socket failed for another reason',
  NOT_A_SOCKET_SERVICE: '`rpc-call` names a service that is a TCP forward, not a socket',
  INPUT_STALLED: "the caller's unread input made no progress within the service's bound; the call is cut",
  NOT_UNDER_QREXEC: '`rpc-exec` was run without the QREXEC_* variables qrexec sets (exit 2)',

  // Files
  ATOMIC_WRITE_FAILED: 'a file could not be replaced atomically; the old content is kept',
  FILE_TOO_LARGE: 'a file read is over its bound',
  NOT_A_FILE: 'a path to read is not a regular file (a FIFO, a device, a directory...)',
  LINK_LOOP: 'too many symbolic links on a path',
  UNSAFE_LINK: 'a symbolic link a non-root user could have made steers a path root follows',
  PATH_CHANGED: 'a directory or file on the path changed between the check and the use (a race refused)',
  NOT_A_DIRECTORY: 'a path that must be a directory is something else',
  CANNOT_CREATE_DIRECTORY: 'a missing directory on the way cannot be created',
  SIMULATE_ROOT_UNUSABLE: '`simulate --root DIR` cannot be used (exit 2)',
  SIMULATE_ROOT_IS_SYSTEM: '`simulate --root` resolves to `/`: a simulation would overwrite the real system (exit 2)',
  SIMULATE_ROOT_NOT_EMPTY:
    '`simulate --root` is a non-empty directory that is not an earlier simulation of this profile (exit 2)',

  // Qubes facts
  QUBESDB_BAD_KEY: 'a qubesdb key the program asked for is malformed (a bug)',
  QUBESDB_MISSING: 'qubesdb has no value the gateway interface needs',
  BAD_ADDRESS: 'an address or netmask from qubesdb is not a valid one',
  IP_OUTPUT: '`ip -json` printed something that is not the expected JSON',
  INTERFACE_COMMAND_FAILED: 'a command setting up the gateway interface failed',
  TIMESTAMP_INVALID: 'qubes.SetDateTime received something that is not an ISO 8601 time with offset',

  // Tor
  TOR_CONTROL_UNREACHABLE: "Tor's control port does not answer",
  TOR_CONTROL_CLOSED: 'the control connection closed or failed',
  TOR_CONTROL_TIMEOUT: 'Tor did not answer a control command in time',
  TOR_CONTROL_REFUSED: 'Tor answered a control command with an error status',
  TOR_CONTROL_PROTOCOL: 'Tor sent a reply that breaks the control protocol',
  TOR_AUTH_UNSUPPORTED: 'the control port offers no SAFECOOKIE authentication',
  TOR_AUTH_FAILED: 'the control port does not prove it knows the cookie (not this Tor)',
  TOR_COOKIE_UNREADABLE: "Tor's control cookie cannot be read",
  NOT_A_GATEWAY: 'the command acts on a Whonix-Gateway AppVM only',
  TOR_PORTS_INVALID: 'the ports table in qubes.yaml does not give Tor a usable listener',
  TOR_ACTION_UNKNOWN: '`whonix.Tor+ACTION` names no action',
  BRIDGE_INVALID: 'a bridge line is malformed (the message names its number) or there are too many (exit 2)',
  TOR_PLUGIN_MISSING: "a bridge transport's plugin is not installed (exit 2)",
  TOR_CONFIG_FOREIGN: "the control panel's file holds settings the command does not manage (exit 2)",
  TOR_CONFIG_UNVERIFIED: '`tor --verify-config` could not be run on the new configuration',
  TOR_CONFIG_REFUSED: '`tor --verify-config` refused the new configuration; nothing was changed',
  TOR_REFUSED: 'Tor did not take the new configuration after the reload; the old file is back',
  TOR_SETTINGS_BUSY: "another change of Tor's settings holds the lock for too long",

  // Updates proxy and tinyproxy
  RECHECK_NOT_STARTED: 'whonix.UpdatesProxyCheck could not start the check unit',
  RECHECK_TIMEOUT: 'the updates-proxy check did not finish in time',
  TINYPROXY_CONFIG_UNREADABLE: "tinyproxy's configuration cannot be read",
  TINYPROXY_BLOCK_BROKEN: "our block in tinyproxy's configuration is damaged (unmatched begin/end lines)",

  // APT gate and notifications
  EXEC_FAILED: 'apt-gate --exec could not run the command (exit 126)',
  BOOT_ID_INVALID: 'the kernel gave no valid boot id',
  NO_SESSION_BUS: 'no session bus to notify the user on',
  NO_STATE_DIRECTORY: 'neither XDG_STATE_HOME nor HOME is set',
  NOTIFY_FAILED: 'the desktop notification could not be sent',
  NOTIFY_TIMEOUT: 'the notification server did not answer in time',

  // The Whonix firewall
  NOT_WHONIX: 'the command acts on a Whonix qube only (exit 5)',
  FIREWALL_CONFIG: 'a firewall drop-in is unsafe, fails in bash or sets a value the firewall does not know (exit 3)',
  FIREWALL_INVALID: 'nft --check refused the generated ruleset, or could not list it (exit 4)',
  FIREWALL_LIST: 'the loaded ruleset could not be listed (exit 4)',
  FIREWALL_LOAD: 'nft refused the ruleset (exit 4); the fail-closed ruleset is loaded at boot',
  FIREWALL_TIMEOUT:
    "generating and loading the firewall took over half the boot unit's time (exit 4); the fail-closed ruleset is loaded at boot",

  // systemd
  SYSTEMD_BUS: "systemd's D-Bus cannot be reached",
  SYSTEMD_CALL: 'systemd refused a call',
  SYSTEMD_REPLY: 'systemd sent no or an unexpected reply',
  SYSTEMD_TIMEOUT: 'systemd did not answer in time',
} as const

export type ErrorCode = keyof typeof ERROR_CODES
