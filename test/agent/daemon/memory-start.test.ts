import { describe, expect, it } from 'vitest'
import { createContext } from '../../../agent/context'
import { startDaemon } from '../../../agent/daemon/daemon'
import type { MemorySource } from '../../../agent/daemon/memory-release'
import { shippedManifest } from '../../../agent/features'
import { silentLog } from '../../../rpc/call'
import { simulatedRoot } from './helper'

describe('the memory release of a daemon that fails to start', () => {
  it('stops watching the heap when the start fails', async () => {
    const root = await simulatedRoot('gateway')
    const context = await createContext({ root, manifest: shippedManifest(), env: { PATH: '' } })
    let observing = 0
    const memory: MemorySource = {
      onCollection() {
        observing++
        return () => observing--
      },
      heapUsed: () => 0,
      collect: () => undefined,
    }
    // No handlers: the first service's factory is unknown, so the start fails.
    const started = startDaemon(context, { log: silentLog, env: {}, handlers: {}, parts: [], memory })
    await expect(started).rejects.toMatchObject({ code: 'UNKNOWN_HANDLER' })
    expect(observing).toBe(0)
  })
})
