import { once } from 'node:events'
import { createServer } from 'node:http'
import { userInfo } from 'node:os'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { AgentContext } from '../context'
import type { Io } from '../io'
import type { Role } from '../role'
import { errorPage } from '../tinyproxy/error-page'
import { runUpdatesProxyCheck } from './check'
import { lastCheckLines } from './format'
import { readMarkerState } from './markers'

/**
 * The demo's template step: the check against a local stand-in for sys-whonix's updates
 * proxy (it answers every request with the error page, as tinyproxy answers a request for
 * its own address), run as the current user; then the marker state it left.
 */
export async function demoCheck(context: AgentContext, role: Role, io: Io): Promise<void> {
  const page = errorPage(context.manifest)
  const server = createServer((_request, response) =>
    response.writeHead(400, { 'Content-Type': 'text/html' }).end(page),
  )
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  try {
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`
    const { check } = context.manifest.updatesProxy
    const manifest = {
      ...context.manifest,
      updatesProxy: { ...context.manifest.updatesProxy, check: { ...check, url, user: userInfo().username } },
    }
    const demoContext = { ...context, manifest }
    io.out(
      `$ qubes-whonix-agent --root ${context.paths.root} updates-proxy check   # against a local stand-in for sys-whonix at ${url}`,
    )
    const code = await runUpdatesProxyCheck(
      {
        context: demoContext,
        role,
        user: userInfo().username,
        io,
        now: () => performance.now(),
        sleep: (ms) => sleep(ms),
        diagnose: async () => null,
        pastUserCheck: () => undefined,
      },
      { recheck: false },
    )
    const state = await readMarkerState(demoContext, role)
    io.out([`exit ${code}; verdict: ${state.verdict}`, ...lastCheckLines(state, true)].join('\n'))
  } finally {
    server.close()
  }
}
