// Files imported with `?raw` (vitest natively, esbuild through scripts/build.mjs) are their text.
declare module '*?raw' {
  const text: string
  export default text
}
