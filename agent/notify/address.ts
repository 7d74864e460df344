/**
 * The session bus to talk to: the first address in DBUS_SESSION_BUS_ADDRESS that a plain
 * socket can reach (unix:path=, tcp:), else systemd's per-user bus in XDG_RUNTIME_DIR.
 * Pure: the environment is an argument.
 */
export function sessionBusAddress(env: NodeJS.ProcessEnv): string | null {
  const untrusted = env.DBUS_SESSION_BUS_ADDRESS ?? ''
  for (const address of untrusted.split(';')) {
    if (/^unix:(.*,)?path=[^,;]+/.test(address) || /^tcp:/.test(address)) return address
  }
  const runtime = env.XDG_RUNTIME_DIR
  return runtime && runtime.startsWith('/') && !/[,;=]/.test(runtime) ? `unix:path=${runtime}/bus` : null
}
