import { connect } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it, onTestFinished } from 'vitest'
import { DEFAULT_LIMITS, silentLog, type Handler } from '../../rpc/call'
import { closeServer, listenOnPath } from '../../rpc/listen'
import { serviceEndpoint } from '../../rpc/server'
import { tempRoot } from '../helpers/sandbox'
import { CodedError } from '../../rpc/errors'
import { readAll } from '../../rpc/input'
import { jsonHandler } from '../../rpc/json'
import { badDescriptors } from './bad-descriptors'
import { jsonOf, rawCall, serveOnSocket } from './serve-helper'

const echoCall = jsonHandler(async (call) => ({
  service: call.service,
  argument: call.argument,
  source: call.source,
  target: call.target,
  input: (await readAll(call.input, call.limits.maxInputBytes)).toString(),
}))

describe('socket services: calls and descriptors', () => {
  it('hands the handler the parsed descriptor and the input after the NUL, and answers JSON', async () => {
    const { path } = await serveOnSocket('test.Echo', echoCall)
    expect(jsonOf(await rawCall(path, 'test.Echo+arg anon-whonix\0hello'))).toEqual({
      ok: true,
      result: { service: 'test.Echo', argument: 'arg', source: 'anon-whonix', target: null, input: 'hello' },
    })
    // Lenient where harmless: a qube's call without `+` still parses, as argument-less.
    expect(jsonOf(await rawCall(path, 'test.Echo sys-net keyword adminvm\0')).result).toMatchObject({ argument: null })
    expect(jsonOf(await rawCall(path, 'test.Echo+ sys-net keyword adminvm\0')).result).toMatchObject({
      argument: '',
      target: { type: 'keyword', value: 'adminvm' },
    })
  })

  it('takes a descriptor split over many writes', async () => {
    const { path } = await serveOnSocket('test.Echo', echoCall)
    const answer = await new Promise<string>((resolve) => {
      const socket = connect({ path, allowHalfOpen: true })
      let text = ''
      socket.on('data', (chunk) => (text += chunk))
      socket.on('close', () => resolve(text))
      void (async () => {
        for (const piece of ['test', '.Ec', 'ho dom', '0', '\0in', 'put']) {
          socket.write(piece)
          await sleep(5)
        }
        socket.end()
      })()
    })
    expect(JSON.parse(answer).result).toMatchObject({ source: 'dom0', argument: null, input: 'input' })
  })

  it('refuses a descriptor for another service on this socket', async () => {
    const { path } = await serveOnSocket('test.Echo', echoCall)
    const answer = jsonOf(await rawCall(path, 'test.Other dom0\0'))
    expect(answer.error?.code).toBe('DESCRIPTOR_INVALID')
    expect(answer.error?.message).toMatch(/test\.Other.*socket of test\.Echo/)
  })

  it('answers 10,000 generated bad descriptors with DESCRIPTOR_INVALID each, and still serves good calls', async () => {
    const { path } = await serveOnSocket('test.Echo', echoCall, { maxConcurrent: 200 })
    const inputs = badDescriptors(10_000, 7)
    for (let start = 0; start < inputs.length; start += 100) {
      const batch = inputs
        .slice(start, start + 100)
        .map((bytes) => rawCall(path, Buffer.concat([Buffer.from(bytes), Buffer.from([0])])))
      for (const result of await Promise.all(batch)) {
        const answer = jsonOf(result)
        expect(answer.ok).toBe(false)
        expect(answer.error?.code).toBe('DESCRIPTOR_INVALID')
      }
    }
    expect(jsonOf(await rawCall(path, 'test.Echo dom0\0')).ok).toBe(true)
  }, 120_000)

  it('refuses a descriptor with no NUL within 65000 bytes without waiting for more', async () => {
    const { path } = await serveOnSocket('test.Echo', echoCall)
    const answer = jsonOf(await rawCall(path, Buffer.alloc(70_000, 0x61), { halfClose: false }))
    expect(answer.error?.message).toMatch(/no NUL within 65000/)
  })

  it('a caller that closes before the NUL gets a clear error', async () => {
    const { path } = await serveOnSocket('test.Echo', echoCall)
    expect(jsonOf(await rawCall(path, 'test.Echo dom0')).error?.message).toMatch(/closed before its NUL/)
  })
})

describe('socket services: limits', () => {
  it('a client that never sends the descriptor is answered DESCRIPTOR_TIMEOUT and disconnected', async () => {
    const { path } = await serveOnSocket('test.Echo', echoCall, { descriptorTimeoutMs: 200 })
    const started = Date.now()
    const result = await rawCall(path, '', { halfClose: false })
    expect(jsonOf(result).error?.code).toBe('DESCRIPTOR_TIMEOUT')
    expect(Date.now() - started).toBeGreaterThanOrEqual(190)
  })

  it('10 MiB sent to a service limited to 4 KiB: INPUT_TOO_LARGE, the sender is cut off, memory stays bounded', async () => {
    const { path, endpoint } = await serveOnSocket('test.Echo', echoCall, { maxInputBytes: 4096 })
    const before = process.memoryUsage().arrayBuffers + process.memoryUsage().heapUsed
    const { answer, sent } = await new Promise<{ answer: string; sent: number }>((resolve) => {
      const socket = connect({ path, allowHalfOpen: true })
      let text = ''
      let sent = 0
      const block = Buffer.alloc(64 * 1024, 0x41)
      socket.on('data', (chunk) => (text += chunk))
      socket.on('error', () => undefined)
      socket.on('close', () => resolve({ answer: text, sent }))
      socket.write('test.Echo dom0\0')
      const pump = () => {
        while (sent < 10 * 1024 * 1024 && !socket.destroyed) {
          sent += block.length
          if (!socket.write(block)) return void socket.once('drain', pump)
        }
        socket.end()
      }
      pump()
    })
    expect(JSON.parse(answer).error.code).toBe('INPUT_TOO_LARGE')
    // The server stopped reading: the 10 MiB never all left the client, nor sat in memory.
    expect(sent).toBeLessThan(10 * 1024 * 1024)
    const after = process.memoryUsage().arrayBuffers + process.memoryUsage().heapUsed
    expect(after - before).toBeLessThan(8 * 1024 * 1024)
    await sleep(50)
    expect(endpoint.openCalls).toBe(0)
  })

  it('a call past its total time is cut: the handler sees the abort, the caller an error', async () => {
    let aborted: unknown
    const slow = jsonHandler(
      (call) =>
        new Promise((_, reject) =>
          call.signal.addEventListener('abort', () => {
            aborted = call.signal.reason
            reject(call.signal.reason)
          }),
        ),
    )
    const { path } = await serveOnSocket('test.Slow', slow, { totalTimeoutMs: 150 })
    const answer = jsonOf(await rawCall(path, 'test.Slow dom0\0'))
    expect(answer.error?.code).toBe('CALL_TIMEOUT')
    expect((aborted as CodedError).code).toBe('CALL_TIMEOUT')
  })

  it('a handler that ignores the abort is still disconnected after the grace', async () => {
    const stuck: Handler = {
      serve: () => new Promise(() => undefined),
      failureAnswer: (error) => `error ${error.code}\n`,
    }
    const { path } = await serveOnSocket('test.Stuck', stuck, { totalTimeoutMs: 100 })
    expect((await rawCall(path, 'test.Stuck dom0\0')).output.toString()).toBe('error CALL_TIMEOUT\n')
  })

  it('one call more than maxConcurrent is refused with BUSY; the open ones are not affected', async () => {
    const release: (() => void)[] = []
    const held = jsonHandler(() => new Promise<string>((resolve) => release.push(() => resolve('done'))))
    const { path } = await serveOnSocket('test.Held', held, { maxConcurrent: 3 })
    const open = [1, 2, 3].map(() => rawCall(path, 'test.Held dom0\0'))
    while (release.length < 3) await sleep(5)
    expect(jsonOf(await rawCall(path, 'test.Held dom0\0')).error?.code).toBe('BUSY')
    release.forEach((wake) => wake())
    for (const result of await Promise.all(open)) expect(jsonOf(result)).toEqual({ ok: true, result: 'done' })
  })

  it('a flood of refused calls is one log line per period, with the count of the others', async () => {
    const warnings: string[] = []
    const release: (() => void)[] = []
    const held = jsonHandler(() => new Promise<string>((resolve) => release.push(() => resolve('done'))))
    const endpoint = serviceEndpoint(
      { name: 'test.Held', handler: held, limits: { ...DEFAULT_LIMITS, maxConcurrent: 1 } },
      { ...silentLog, warning: (line) => warnings.push(line) },
    )
    const path = join(await tempRoot('qwa-rpc-'), 'test.Held')
    const server = await listenOnPath(endpoint, path, { mode: 0o660 })
    onTestFinished(async () => {
      await closeServer(server)
      await endpoint.drain(0)
    })
    const open = rawCall(path, 'test.Held dom0\0')
    while (release.length < 1) await sleep(5)
    for (let i = 0; i < 20; i++) expect(jsonOf(await rawCall(path, 'test.Held dom0\0')).error?.code).toBe('BUSY')
    expect(warnings).toEqual(['test.Held: refused a call: test.Held is busy: 1 calls already open; try again'])
    release[0]?.()
    expect(jsonOf(await open)).toEqual({ ok: true, result: 'done' })
  })

  it('500 concurrent calls are all answered correctly', async () => {
    const { path } = await serveOnSocket('test.Echo', echoCall, { maxConcurrent: 500 })
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, index) => rawCall(path, `test.Echo+n${index} q${index}\0payload-${index}`)),
    )
    results.forEach((result, index) =>
      expect(jsonOf(result).result).toMatchObject({
        argument: `n${index}`,
        source: `q${index}`,
        input: `payload-${index}`,
      }),
    )
  })
})

describe('socket services: streams', () => {
  it('honours half-close: the handler reads to EOF while the caller waits, then answers', async () => {
    const upper: Handler = {
      async serve(call) {
        const text = (await readAll(call.input, 1 << 20)).toString()
        call.output.end(text.toUpperCase())
      },
    }
    const { path } = await serveOnSocket('test.Upper', upper)
    expect((await rawCall(path, 'test.Upper dom0\0abc')).output.toString()).toBe('ABC')
  })

  it('honours half-close the other way: the answer ends while the caller still sends', async () => {
    const early: Handler = {
      async serve(call) {
        call.output.end('early\n')
        // The caller's stdout has ended; its input still flows and is read to the end.
        const rest = await readAll(call.input, 1 << 20)
        received = rest.toString()
      },
    }
    let received = ''
    const { path } = await serveOnSocket('test.Early', early)
    const { gotAnswerBeforeInputEnd } = await new Promise<{ gotAnswerBeforeInputEnd: boolean }>((resolve) => {
      const socket = connect({ path, allowHalfOpen: true })
      let answered = false
      socket.on('data', () => undefined)
      socket.on('end', () => {
        answered = true
        socket.write('more input')
        socket.end()
      })
      socket.on('close', () => resolve({ gotAnswerBeforeInputEnd: answered }))
      socket.write('test.Early dom0\0first ')
    })
    expect(gotAnswerBeforeInputEnd).toBe(true)
    // Both directions have ended, so the connection closes while the handler finishes reading.
    for (let wait = 0; received === '' && wait < 100; wait++) await sleep(10)
    expect(received).toBe('first more input')
  })

  it('a client that disconnects mid-answer: the handler is aborted, the service keeps serving', async () => {
    let sawAbort = false
    const big: Handler = {
      async serve(call) {
        const block = Buffer.alloc(256 * 1024, 0x42)
        call.signal.addEventListener('abort', () => (sawAbort = true))
        while (!call.signal.aborted) {
          if (!call.output.write(block)) await new Promise((resolve) => setTimeout(resolve, 5))
        }
      },
    }
    const { path, endpoint } = await serveOnSocket('test.Big', big)
    await new Promise<void>((resolve) => {
      const socket = connect({ path })
      let got = 0
      socket.on('data', (chunk) => {
        got += chunk.length
        if (got > 1024 * 1024) socket.destroy()
      })
      socket.on('close', () => resolve())
      socket.write('test.Big dom0\0')
    })
    while (endpoint.openCalls > 0) await sleep(10)
    expect(sawAbort).toBe(true)
    const again = await new Promise<number>((resolve) => {
      const socket = connect({ path })
      socket.once('data', (chunk) => {
        socket.destroy()
        resolve(chunk.length)
      })
      socket.write('test.Big dom0\0')
    })
    expect(again).toBeGreaterThan(0)
  })

  it('a bug in a handler answers INTERNAL with a generic message, never the stack', async () => {
    const buggy = jsonHandler(() => {
      throw new TypeError('secret internals at /root/x')
    })
    const { path } = await serveOnSocket('test.Bug', buggy)
    const answer = jsonOf(await rawCall(path, 'test.Bug dom0\0'))
    expect(answer.error?.code).toBe('INTERNAL')
    expect(answer.error?.message).not.toMatch(/secret|root/)
  })

  it('a CodedError keeps its code and message', async () => {
    const refusing = jsonHandler(() => {
      throw new CodedError('SERVICE_NOT_SERVED', 'not today')
    })
    const { path } = await serveOnSocket('test.Nope', refusing)
    expect(jsonOf(await rawCall(path, 'test.Nope dom0\0'))).toEqual({
      ok: false,
      error: { code: 'SERVICE_NOT_SERVED', message: 'not today' },
    })
  })

  it('drain lets open calls finish within the grace, then cuts the rest', async () => {
    const release: (() => void)[] = []
    const held = jsonHandler(() => new Promise<string>((resolve) => release.push(() => resolve('finished'))))
    const { path, endpoint } = await serveOnSocket('test.Held', held)
    const first = rawCall(path, 'test.Held dom0\0')
    while (release.length < 1) await sleep(5)
    const draining = endpoint.drain(2000)
    release[0]?.()
    await draining
    expect(jsonOf(await first).result).toBe('finished')
    const second = rawCall(path, 'test.Held dom0\0')
    while (release.length < 2) await sleep(5)
    await endpoint.drain(50)
    expect(jsonOf(await second).error?.code).toBe('SHUTTING_DOWN')
  })
})
