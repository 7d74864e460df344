// Files imported with `?raw` (vitest natively, esbuild through scripts/build.mjs) are their text.
declare module '*?raw' {
  const text: string
  export default text
}

// qubes.yaml parsed and checked against the schema at build time (scripts/manifest-plugin.mjs).
declare module 'virtual:shipped-manifest' {
  const manifest: unknown
  export default manifest
}
