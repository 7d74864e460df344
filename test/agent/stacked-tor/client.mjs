// A client of the forwarders, run as its own process so it can run inside the workstation's
// network namespace (`ip netns exec WS node forwarders-client.mjs JSON`). It speaks Tor's
// control protocol and SOCKS5, or just opens connections, and prints one JSON answer.
import { Buffer } from 'node:buffer'
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { clearTimeout, setTimeout } from 'node:timers'

const request = JSON.parse(process.argv[2] ?? '{}')
const TIMEOUT_MS = request.timeoutMs ?? 10_000

/** Connects and returns helpers to send and to read until a predicate holds. */
function open(endpoint) {
  return new Promise((resolve, reject) => {
    const socket = connect(endpoint)
    let buffered = Buffer.alloc(0)
    let waiter = null
    const check = () => {
      if (waiter && waiter.done(buffered)) {
        const { resolve: done, take } = waiter
        waiter = null
        done(take(buffered))
      }
    }
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk])
      check()
    })
    socket.on('error', (error) => (waiter ? waiter.reject(error) : reject(error)))
    socket.on('close', () => waiter?.reject(new Error(`closed; had ${JSON.stringify(buffered.toString('latin1'))}`)))
    socket.on('connect', () =>
      resolve({
        socket,
        send: (data) => socket.write(data),
        read: (done, take) =>
          new Promise((resolveRead, rejectRead) => {
            const timer = setTimeout(() => rejectRead(new Error('no answer in time')), TIMEOUT_MS)
            waiter = {
              done,
              take: (all) => {
                clearTimeout(timer)
                const [result, rest] = take(all)
                buffered = rest
                return result
              },
              resolve: resolveRead,
              reject: (error) => {
                clearTimeout(timer)
                rejectRead(error)
              },
            }
            check()
          }),
      }),
    )
  })
}

// A control reply ends with a line "NNN " (a space after the code).
const replyEnd = (text) => /(^|\r\n)\d{3} [^\r\n]*\r\n/.exec(text)
async function controlReply(conn) {
  return conn.read(
    (buffer) => replyEnd(buffer.toString('latin1')) !== null,
    (buffer) => {
      const text = buffer.toString('latin1')
      const match = replyEnd(text)
      const end = match.index + match[0].length
      return [text.slice(0, end).split('\r\n').filter(Boolean), buffer.subarray(end)]
    },
  )
}

async function control() {
  const conn = await open(request.connect)
  conn.send('PROTOCOLINFO 1\r\n')
  const protocolinfo = await controlReply(conn)
  const cookie = readFileSync(request.cookieFile).toString('hex')
  conn.send(`AUTHENTICATE ${cookie}\r\n`)
  const authenticate = await controlReply(conn)
  conn.send('GETINFO version\r\n')
  const version = await controlReply(conn)
  const commands = []
  for (const command of request.then ?? []) {
    conn.send(`${command}\r\n`)
    commands.push(await controlReply(conn))
  }
  conn.socket.end('QUIT\r\n')
  return { protocolinfo, authenticate, version, commands }
}

const bytes = (count) => ({
  done: (buffer) => buffer.length >= count,
  take: (buffer) => [[...buffer.subarray(0, count)], buffer.subarray(count)],
})

async function socks() {
  const conn = await open(request.connect)
  // Version 5, one method: no authentication.
  conn.send(Buffer.from([5, 1, 0]))
  const method = await conn.read(bytes(2).done, bytes(2).take)
  // CONNECT to a name Tor can check at once (an onion address that cannot be valid): it answers with a failure.
  const host = Buffer.from(request.host ?? 'invalid.onion')
  conn.send(Buffer.concat([Buffer.from([5, 1, 0, 3, host.length]), host, Buffer.from([0, 80])]))
  const reply = await conn.read(bytes(2).done, bytes(2).take)
  conn.socket.destroy()
  return { method, reply }
}

/** One connection: writes a byte, waits for it to end; says how it ended and how long it took. */
function probe() {
  const started = Date.now()
  return new Promise((resolve) => {
    const socket = connect(request.connect)
    let error = null
    socket.on('connect', () => socket.write('x'))
    socket.on('data', () => undefined)
    socket.on('error', (caught) => (error = caught.code ?? caught.message))
    socket.on('close', () => resolve({ error, ms: Date.now() - started }))
  })
}

/** `count` connections, `concurrency` at a time, each a one-byte echo; counts what failed. */
function many() {
  const { count, concurrency } = request
  let started = 0
  let finished = 0
  let failed = 0
  return new Promise((resolve) => {
    const next = () => {
      if (started >= count) return
      started++
      const socket = connect({ ...request.connect, allowHalfOpen: true })
      let echoed = false
      socket.on('connect', () => socket.end('x'))
      socket.on('data', () => (echoed = true))
      socket.on('error', () => undefined)
      socket.on('close', () => {
        if (!echoed) failed++
        if (++finished === count) resolve({ finished, failed })
        else next()
      })
    }
    for (let i = 0; i < concurrency; i++) next()
  })
}

const operations = { control, socks, probe, many }
try {
  const result = await operations[request.op]()
  process.stdout.write(`${JSON.stringify({ ok: true, result })}\n`)
} catch (error) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: error.code ?? error.message })}\n`)
}
process.exit(0)
