// The start of the bundle (scripts/build.mjs puts it in front of the program): the program is
// one CommonJS function in a string, which V8 compiles with the code cache beside the bundle
// (BUNDLE.code-cache) when this same node wrote it for this same build, else from source.
// `qubes-whonix-agent.mjs --write-code-cache` writes it (at install, by the node that runs it).
import { Buffer } from 'node:buffer'
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { Script } from 'node:vm'

const WRITE_OPTION = '--write-code-cache'
const MAX_CACHE_BYTES = 32 * 1024 * 1024

// V8 checks its own version and flags, but for the source only its length: the build's hash
// in the header keeps a cache of another build of the same length out.
const cacheHeader = (build) =>
  Buffer.from(`qubes-whonix-agent code cache ${build} ${process.version} ${process.arch}\n`)

/**
 * The V8 data of the cache file, or undefined when there is none usable: not a regular file,
 * not owned by the bundle's owner, writable by group or others, too large, or of another build.
 */
function readCache(file, owner, header) {
  let fd
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW)
  } catch {
    return undefined
  }
  try {
    const stat = fstatSync(fd)
    if (!stat.isFile() || stat.uid !== owner || (stat.mode & 0o022) !== 0 || stat.size > MAX_CACHE_BYTES)
      return undefined
    const data = readFileSync(fd)
    return data.subarray(0, header.length).equals(header) ? data.subarray(header.length) : undefined
  } finally {
    closeSync(fd)
  }
}

/** Replaces the cache file at once (a new file renamed over it), so no start reads half of one. */
function writeCache(file, header, script) {
  const temporary = `${file}.${process.pid}.tmp`
  try {
    writeFileSync(temporary, Buffer.concat([header, script.createCachedData()]), { flag: 'wx', mode: 0o644 })
    renameSync(temporary, file)
  } catch (error) {
    try {
      unlinkSync(temporary)
    } catch {
      // Not created.
    }
    throw error
  }
}

export function runProgram(build, program) {
  const bundle = fileURLToPath(import.meta.url)
  const cacheFile = `${bundle}.code-cache`
  const header = cacheHeader(build)
  const writing = process.argv.length === 3 && process.argv[2] === WRITE_OPTION
  const cachedData = writing ? undefined : readCache(cacheFile, statSync(bundle).uid, header)
  const script = new Script(program, { filename: bundle, cachedData })
  if (writing) {
    try {
      writeCache(cacheFile, header, script)
    } catch (error) {
      process.stderr.write(`qubes-whonix-agent: cannot write the code cache ${cacheFile}: ${error.message}\n`)
      process.exitCode = 1
    }
    return
  }
  const module = { exports: {} }
  script.runInThisContext()(
    module.exports,
    createRequire(bundle),
    module,
    bundle,
    bundle.slice(0, bundle.lastIndexOf('/')),
  )
}
