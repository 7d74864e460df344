import { setFlagsFromString } from 'node:v8'
import { errorMessage } from '../../rpc/errors'
import { contextFromArgs } from '../context'
import { startDaemon } from '../daemon/daemon'
import { journalLog } from '../daemon/log'
import { processMemory } from '../daemon/process-memory'
import { defineCommand } from './command'

export const daemonCommand = defineCommand({
  command: 'daemon',
  describe:
    "Serve this qube's qrexec services on their sockets (systemd socket activation or its own) and run the long-lived parts; SIGTERM stops, SIGHUP reloads",
  async run(args, _io, features) {
    // A long-lived daemon favours memory over speed: V8 then grows and keeps a smaller heap
    // under call load (measured: RSS after 9,000 calls 72 instead of 95 MiB).
    setFlagsFromString('--optimize-for-size')
    // The young generation keeps the size it started with: under bursts of connections V8
    // doubled it up to 16 MiB and kept it (RSS after the forwarders' bench 66-74 instead of
    // 57-58 MiB). Set at run time: a flag on node's command line would make V8 refuse the
    // code cache.
    setFlagsFromString('--semi-space-growth-factor=1')
    const log = journalLog((text) => void process.stderr.write(text), args.verbose)
    // Signal handlers first: Node dies of SIGHUP and SIGTERM by default, and systemd
    // (Type=exec) may reload or stop the daemon while it is still starting.
    const started = Promise.all([contextFromArgs(args, features), features.loadParts()]).then(([context, parts]) =>
      startDaemon(context, {
        log,
        env: process.env,
        handlers: features.handlers,
        parts,
        releaseShared: () => features.releaseShared(),
        memory: processMemory(),
      }),
    )
    const whenStarted = started.catch(() => null)
    const stopped = new Promise<void>((resolve) => {
      let reloading: Promise<unknown> = whenStarted
      const stop = (signal: NodeJS.Signals) => {
        log.info(`${signal}: shutting down`)
        // A second signal while draining cuts the calls at once.
        process.once(signal, () => void whenStarted.then((daemon) => daemon?.stop(0)))
        // After a reload under way: one finishing after the stop would listen again.
        void reloading.then(async () => (await whenStarted)?.stop()).then(() => resolve())
      }
      process.once('SIGTERM', stop)
      process.once('SIGINT', stop)
      process.on('SIGHUP', () => {
        reloading = reloading.then(async () => {
          const daemon = await whenStarted
          if (daemon === null) return
          log.info('SIGHUP: reloading the manifest')
          try {
            await daemon.reload(await contextFromArgs(args, features))
          } catch (error) {
            log.error(`reload: ${errorMessage(error)}`)
          }
        })
      })
    })
    log.debug(`starting (pid ${process.pid})`)
    await started
    await stopped
    return 0
  },
})
