import { monotonicMs } from '../time/monotonic'
import { errorMessage } from '../../rpc/errors'
import { bootstrapEvent, describeBootstrap, readBootstrapPhase, type BootstrapPhase } from './bootstrap'
import { openTorControl, type TorControl, type TorControlSettings } from './client'

export type TorReadiness =
  | { readonly ready: true; readonly phase: BootstrapPhase }
  | { readonly ready: false; readonly phase: BootstrapPhase | null; readonly reason: string }

const RETRY_INITIAL_MS = 50
const RETRY_MAX_MS = 1000

/**
 * Knows whether Tor has finished bootstrapping. It keeps one authenticated control
 * connection subscribed to STATUS_CLIENT events, so once Tor is ready, asking costs no
 * I/O at all; if Tor restarts, the connection drops and the next question reconnects.
 */
export class TorReadinessMonitor {
  private control: TorControl | null = null
  private phase: BootstrapPhase | null = null
  private lastError: string | null = null
  private opening: Promise<void> | null = null
  private closed = false
  private readonly waiters = new Set<() => void>()

  constructor(private readonly settings: TorControlSettings) {}

  /** Ready now, known without any I/O. */
  get ready(): boolean {
    return this.control !== null && this.phase?.progress === 100
  }

  current(): TorReadiness {
    if (this.ready && this.phase) return { ready: true, phase: this.phase }
    const why = this.control && this.phase ? describeBootstrap(this.phase) : (this.lastError ?? 'not asked yet')
    return { ready: false, phase: this.control ? this.phase : null, reason: `Tor is not ready: ${why}` }
  }

  /** Resolves as soon as Tor is ready, or after `timeoutMs` (0: look once) with the reason it is not. */
  async waitReady(timeoutMs: number, signal?: AbortSignal): Promise<TorReadiness> {
    if (this.ready) return this.current()
    const deadline = monotonicMs() + timeoutMs
    let retryMs = RETRY_INITIAL_MS
    for (;;) {
      if (!this.control && !this.closed) await this.connect().catch(() => undefined)
      const left = deadline - monotonicMs()
      if (this.ready || left <= 0 || signal?.aborted || this.closed) return this.current()
      await this.changeOrTimeout(this.control ? left : Math.min(left, retryMs), signal)
      if (!this.control) retryMs = Math.min(retryMs * 2, RETRY_MAX_MS)
    }
  }

  /** Closes the connection for good: a connection still opening is closed when it opens. */
  close(): void {
    this.closed = true
    this.control?.connection.close()
    this.control = null
    this.phase = null
    this.lastError = 'the monitor was closed'
    this.notify()
  }

  private connect(): Promise<void> {
    this.opening ??= this.open().finally(() => (this.opening = null))
    return this.opening
  }

  private async open(): Promise<void> {
    let control: TorControl | null = null
    try {
      control = await openTorControl(this.settings)
      const opened = control
      // An event that comes with the GETINFO reply (one read) lands before `control` is set.
      let early: BootstrapPhase | null = null
      opened.connection.onEvent((reply) => {
        try {
          const phase = bootstrapEvent(reply)
          if (phase && this.control === opened) this.update(phase)
          else if (phase) early = phase
        } catch (error) {
          opened.connection.close()
          this.lastError = errorMessage(error)
        }
      })
      opened.connection.onClose((error) => {
        if (this.control !== opened) return
        this.control = null
        this.phase = null
        this.lastError = error.message
        this.notify()
      })
      await opened.connection.command('SETEVENTS STATUS_CLIENT')
      const asked = await readBootstrapPhase(opened.connection)
      if (opened.connection.closed) throw new Error(`Tor closed the control connection ${opened.connection.address}`)
      if (this.closed) throw new Error('the monitor was closed')
      this.control = opened
      this.lastError = null
      // Bootstrap progress only grows while a connection lasts: the further of the two is now.
      const seen = early as BootstrapPhase | null
      this.update(seen !== null && seen.progress > asked.progress ? seen : asked)
    } catch (error) {
      control?.connection.close()
      this.lastError = errorMessage(error)
      throw error
    }
  }

  private update(phase: BootstrapPhase): void {
    this.phase = phase
    this.notify()
  }

  private notify(): void {
    for (const wake of [...this.waiters]) wake()
  }

  private changeOrTimeout(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.waiters.delete(done)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.waiters.add(done)
      signal?.addEventListener('abort', done, { once: true })
    })
  }
}
