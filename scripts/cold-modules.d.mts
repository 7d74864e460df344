// Types of scripts/cold-modules.mjs, for the tests that build a bundle with it.
export declare const COLD_PACKAGES: readonly string[]
export declare function bundleColdPackages(options: object): Promise<{ name: string; text: string; metafile: object }[]>
export declare function coldSection(modules: readonly { name: string; text: string }[]): {
  comment: string
  index: Record<string, [number, number]>
}
