import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks'
import { getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { MemorySource } from './memory-release'

// Our own collection (collect()) is forced; only V8's own say the daemon is busy.
function forced(entry: PerformanceEntry): boolean {
  const flags = (entry as { detail?: { flags?: number } | null }).detail?.flags ?? 0
  return (flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0
}

/** This process's V8 heap, as memory-release.ts needs it. */
export function processMemory(): MemorySource {
  // V8 lets a script start a collection only with --expose-gc. Set at run time (on node's
  // command line a V8 flag makes it refuse the code cache), it gives `gc` to contexts made
  // from now on: one made for it, not the daemon's own global scope.
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  return {
    onCollection(collected) {
      const observer = new PerformanceObserver((list) => {
        if (list.getEntries().some((entry) => !forced(entry))) collected()
      })
      observer.observe({ entryTypes: ['gc'] })
      return () => observer.disconnect()
    },
    heapUsed: () => getHeapStatistics().used_heap_size,
    collect: () => gc(),
  }
}
