// The npm packages the program reaches only through import(), on some paths: yargs (a
// command with options of its own, help), yaml (--config), zx (shell commands), dbus-next
// (systemd, notifications). Each is bundled apart, compressed and kept in one block comment
// at the end of the bundle: Node reads, decodes and V8 scans the whole file at every start,
// and a comment is skipped three times as fast as the string the program is kept in. The
// loader (scripts/program-loader.mjs) inflates and compiles one when the program first
// requires it (docs/performance.md).
import { build } from 'esbuild'
import { Buffer } from 'node:buffer'
import { constants, deflateRawSync } from 'node:zlib'

export const COLD_PACKAGES = ['yargs/yargs', 'yaml', 'zx/core', 'dbus-next']

/** Each cold package as one CommonJS module text, with esbuild's record of what went in. */
export async function bundleColdPackages(options) {
  return Promise.all(
    COLD_PACKAGES.map(async (name) => {
      const { outputFiles, metafile } = await build({
        ...options,
        // The package's CommonJS build: the program, an ES module, imports it as Node
        // imports CommonJS (esbuild's interop: its default is module.exports).
        stdin: { contents: `module.exports = require(${JSON.stringify(name)})`, resolveDir: process.cwd() },
        outfile: `cold/${name}.js`,
        write: false,
        metafile: true,
      })
      return { name, text: outputFiles[0].text, metafile }
    }),
  )
}

// base64 holds no `*/`, which would end the comment.
const encode = (text) =>
  deflateRawSync(Buffer.from(text, 'utf8'), { level: constants.Z_BEST_COMPRESSION }).toString('base64')

/**
 * The comment that ends the bundle, and where each module is in it: name -> [bytes from its
 * start to the end of the file, its length]. Counted from the end, the places hold whatever
 * is put before (packaging rewrites the `#!` line).
 */
export function coldSection(modules) {
  const texts = modules.map(({ text }) => encode(text))
  const end = '*/\n'
  const index = {}
  let fromEnd = end.length
  for (let position = texts.length - 1; position >= 0; position--) {
    const { length } = texts[position]
    fromEnd += length
    index[modules[position].name] = [fromEnd, length]
  }
  return { comment: `/*${texts.join('')}${end}`, index }
}
