// A oneshot unit with no start timeout waits for ever on a step that hangs (a FIFO where a
// file should be), and the boot with it: every oneshot the package installs has one.
import { describe, expect, it } from 'vitest'
import { generatedFiles } from '../../agent/features'
import { shippedManifest } from '../../agent/features'

describe('oneshot units', () => {
  it('every generated Type=oneshot unit has a TimeoutStartSec', async () => {
    const oneshots = (await generatedFiles(shippedManifest())).filter(
      (file) => file.kind === 'file' && /^Type=oneshot$/m.test(file.content),
    )
    expect(oneshots.length).toBeGreaterThanOrEqual(4)
    const without = oneshots
      .filter((file) => file.kind === 'file' && !/^TimeoutStartSec=[1-9]\d*$/m.test(file.content))
      .map((file) => file.path)
    expect(without).toEqual([])
  })
})
