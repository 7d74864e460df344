// The start of the bundle (scripts/build.mjs puts it in front of the program): the program is
// one CommonJS function in a string, which V8 compiles with the code cache beside the bundle
// (BUNDLE.code-cache) when this same node wrote it for this same build, else from source.
// `qubes-whonix-agent.mjs --write-code-cache` writes it (at install, by the node that runs it).
// The npm packages only some commands load are in a comment at the end of the bundle
// (scripts/cold-modules.mjs): the program's require() compiles one from there when asked.
import { createRequire } from 'node:module'

// Node's modules through require: an ES import of one builds a facade of all its exports,
// which for node:fs reads every lazy getter (its streams and all) at each start.
const nodeRequire = createRequire(import.meta.url)
const { Buffer } = nodeRequire('node:buffer')
const {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} = nodeRequire('node:fs')
const { fileURLToPath } = nodeRequire('node:url')
const { Script } = nodeRequire('node:vm')

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

const dirname = (file) => file.slice(0, file.lastIndexOf('/'))

/** One cold package's text, compressed in `length` bytes that end `fromEnd` bytes before the end of the file. */
function readColdText(fd, [fromEnd, length]) {
  const bytes = Buffer.alloc(length)
  const start = fstatSync(fd).size - fromEnd
  for (let done = 0; done < length;) {
    const read = readSync(fd, bytes, done, length - done, start + done)
    if (read === 0) throw new Error('the bundle is shorter than its index of cold packages says')
    done += read
  }
  const { inflateRawSync } = nodeRequire('node:zlib')
  return inflateRawSync(Buffer.from(bytes.toString('latin1'), 'base64')).toString('utf8')
}

/**
 * Node's require for the program, which gives the cold packages from the bundle's end. The
 * bundle is opened at start and kept open, so a process whose bundle is replaced on disk (an
 * upgrade under a running daemon) still reads its own build.
 */
function programRequire(bundle, coldIndex) {
  const fd = openSync(bundle, constants.O_RDONLY)
  const loaded = new Map()
  const require = (name) => {
    if (!Object.hasOwn(coldIndex, name)) return nodeRequire(name)
    let module = loaded.get(name)
    if (module === undefined) {
      module = { exports: {} }
      loaded.set(name, module)
      const text = readColdText(fd, coldIndex[name])
      const compiled = new Script(`(function (exports, require, module, __filename, __dirname) {${text}\n})`, {
        filename: `${bundle} (${name})`,
      })
      compiled.runInThisContext()(module.exports, require, module, bundle, dirname(bundle))
    }
    return module.exports
  }
  // require.resolve, .main, .cache and .extensions, which yargs consults.
  return Object.assign(require, nodeRequire)
}

export function runProgram(build, program, coldIndex) {
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
  script.runInThisContext()(module.exports, programRequire(bundle, coldIndex), module, bundle, dirname(bundle))
}
