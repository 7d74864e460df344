// Files imported with `?raw` (vitest natively, esbuild through scripts/build.mjs) are their text.
declare module '*?raw' {
  const text: string
  export default text
}

// qubes.yaml parsed and checked against the schema at build time, as JSON (scripts/manifest-plugin.mjs).
declare module 'virtual:shipped-manifest' {
  const manifestJson: string
  export default manifestJson
}
