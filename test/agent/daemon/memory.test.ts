import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { MemoryReleaseStatus } from '../../../agent/daemon/memory-release'
import { descriptorFor } from '../../../rpc/descriptor'
import { callSocketService } from '../../../rpc/socket-client'
import { tempRoot } from '../../helpers/sandbox'
import { manifestFile, READY, simulatedRoot, startDaemon } from './helper'

const RELEASED = /<7>memory: quiet for 1000 ms, a full collection freed ([0-9]+) KiB/

async function memoryOf(root: string): Promise<MemoryReleaseStatus> {
  const answer = await callSocketService(
    join(root, 'run/qubes-rpc/whonix.Status'),
    descriptorFor('whonix.Status', 'dom0'),
    { timeoutMs: 10_000, maxOutputBytes: 1 << 22 },
  )
  return (JSON.parse(answer.toString()) as { result: { daemon: { memory: MemoryReleaseStatus } } }).result.daemon.memory
}

/** 8 callers at once for `ms`; the number of calls made. */
async function burst(root: string, ms: number): Promise<number> {
  const until = performance.now() + ms
  let calls = 0
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (performance.now() < until) {
        await memoryOf(root)
        calls++
      }
    }),
  )
  return calls
}

describe('the daemon gives memory back after a burst', () => {
  it('after start-up and after a burst of calls, once quiet; not while the calls go on; with the limits of a reload', async () => {
    const root = await simulatedRoot('gateway')
    const dir = await tempRoot()
    const config = manifestFile(dir, (m) => (m.services.memoryRelease = { quietMs: 1000, minGrowthKiB: 256 }))
    const daemon = startDaemon(root, ['--config', config])
    await daemon.waitForLog(READY)
    await daemon.waitForLog(RELEASED)
    const releases = () => [...daemon.log().matchAll(new RegExp(RELEASED, 'g'))].map((match) => Number(match[1]))
    expect(releases()).toHaveLength(1)

    // A burst: 8 callers at once for 2.5 s. V8 collects all along, so no release may run.
    expect(await burst(root, 2500)).toBeGreaterThan(100)
    expect(releases()).toHaveLength(1)

    await daemon.waitForLog(/freed [0-9]+ KiB[^]*freed [0-9]+ KiB/)
    expect(releases()).toHaveLength(2)
    expect(releases()[1]).toBeGreaterThan(256)
    const status = await memoryOf(root)
    expect(status.releases).toBeGreaterThanOrEqual(2)

    // SIGHUP takes new limits: the next release waits the new quiet spell.
    manifestFile(dir, (m) => (m.services.memoryRelease = { quietMs: 300, minGrowthKiB: 256 }))
    daemon.child.kill('SIGHUP')
    await daemon.waitForLog(/SIGHUP: reloading the manifest[^]*<6>serving /)
    await burst(root, 1000)
    await daemon.waitForLog(/<7>memory: quiet for 300 ms, a full collection freed/)
    expect(await daemon.stop('SIGTERM')).toBe(0)
  })
})
