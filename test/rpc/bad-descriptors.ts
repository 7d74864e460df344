// A seeded generator, so a failure names an input that can be replayed.
function generator(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

/** Bad descriptors of every family the issue names; each must be refused with a clear error. */
export function badDescriptors(count: number, seed = 1): Uint8Array[] {
  const random = generator(seed)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
  const bytes = (length: number) => Uint8Array.from({ length }, () => Math.floor(random() * 256))
  const families: (() => Uint8Array)[] = [
    () => bytes(1 + Math.floor(random() * 200)).map((byte) => byte || 1),
    () => Buffer.from(`+${pick(['arg', '', 'x+y'])} dom0`),
    () => Buffer.from(`${pick(['', ' ', '  '])}dom0`),
    () => Buffer.from(`${'a'.repeat(256 + Math.floor(random() * 1000))} dom0`),
    () => Buffer.from(`svc${pick(['/', '$', ';', '\n', '\t', 'é', '*', '\\', '"', '`'])}x dom0`),
    () => Buffer.from(`svc+arg${pick(['/', ' ', '$(id)', '*', '~', '%'])} dom0`),
    () => Buffer.concat([Buffer.from('svc+'), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from(' dom0')]),
    () => Buffer.from(`svc ${pick(['', '1qube', '-x', 'a'.repeat(32), 'q/b', '@anyvm', 'dom0 extra'])}`),
    () => Buffer.from(`svc+ q ${pick(['name', 'keyword', 'other'])} ${pick(['', 'BAD KEY', '@x', '..'])}`),
    () => Buffer.from(`svc+ q name`),
    () => Buffer.from(pick(['svc', 'svc+arg', 'svc dom0 name', 'svc  dom0'])),
  ]
  return Array.from({ length: count }, () => pick(families)())
}
