import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import type { Handler } from '../../rpc/call'
import { readAll } from '../../rpc/input'
import { jsonHandler } from '../../rpc/json'
import { tempRoot } from '../helpers/sandbox'
import { callThroughAgent, EXIT_NOT_FOUND } from '../stand-ins/qrexec-agent'
import { serveOnSocket } from './serve-helper'

const describeCall = jsonHandler(async (call) => ({
  argument: call.argument,
  source: call.source,
  target: call.target,
  input: (await readAll(call.input, 1 << 20)).toString(),
}))

async function qube(): Promise<{ root: string; run: string; etc: string; config: string }> {
  const root = await tempRoot('qwa-qube-')
  const dirs = {
    root,
    run: join(root, 'run/qubes-rpc'),
    etc: join(root, 'etc/qubes-rpc'),
    config: join(root, 'etc/qubes/rpc-config'),
  }
  for (const dir of [dirs.run, dirs.etc, dirs.config]) mkdirSync(dir, { recursive: true })
  return dirs
}

describe('a socket service end to end through the qrexec-agent stand-in', () => {
  it('carries every descriptor form to the handler, exit code 0', async () => {
    const dirs = await qube()
    const { path } = await serveOnSocket('test.Describe', describeCall)
    symlinkSync(path, join(dirs.etc, 'test.Describe'))
    const agent = { serviceDirs: [dirs.run, dirs.etc], rpcConfigDirs: [dirs.config] }
    const answer = async (call: Parameters<typeof callThroughAgent>[1]) => {
      const result = await callThroughAgent(agent, call)
      expect(result).toMatchObject({ exitCode: 0, kind: 'socket' })
      return JSON.parse(result.stdout.toString()).result
    }
    expect(await answer({ service: 'test.Describe', source: 'dom0' })).toEqual({
      argument: null,
      source: 'dom0',
      target: null,
      input: '',
    })
    expect(await answer({ service: 'test.Describe', argument: 'x', source: 'dom0', input: 'in' })).toMatchObject({
      argument: 'x',
      input: 'in',
    })
    expect(await answer({ service: 'test.Describe', source: 'anon-whonix' })).toMatchObject({
      argument: '',
      source: 'anon-whonix',
    })
    expect(
      await answer({
        service: 'test.Describe',
        argument: 'a',
        source: 'anon-whonix',
        target: { type: 'keyword', value: 'adminvm' },
      }),
    ).toMatchObject({ target: { type: 'keyword', value: 'adminvm' } })
    expect(
      await answer({
        service: 'test.Describe',
        argument: 'a',
        source: 'anon-whonix',
        target: { type: 'name', value: 'dom0' },
      }),
    ).toMatchObject({ target: { type: 'name', value: 'dom0' } })
  })

  it('a failure is in the output, never in the exit code', async () => {
    const dirs = await qube()
    const { path } = await serveOnSocket(
      'test.Fail',
      jsonHandler(() => Promise.reject(new Error('bug'))),
    )
    symlinkSync(path, join(dirs.etc, 'test.Fail'))
    const result = await callThroughAgent({ serviceDirs: [dirs.etc] }, { service: 'test.Fail', source: 'dom0' })
    expect(result.exitCode).toBe(0)
    expect(JSON.parse(result.stdout.toString()).error.code).toBe('INTERNAL')
  })

  it('with exit-on-service-eof the call ends when the service has answered, though the caller keeps its input open', async () => {
    const dirs = await qube()
    const answerFirst: Handler = { serve: async (call) => void call.output.end('answer\n') }
    const { path } = await serveOnSocket('test.First', answerFirst)
    symlinkSync(path, join(dirs.etc, 'test.First'))
    writeFileSync(join(dirs.config, 'test.First'), 'exit-on-service-eof = true\n')
    const endless = new Readable({ read() {} })
    const result = await callThroughAgent(
      { serviceDirs: [dirs.etc], rpcConfigDirs: [dirs.config] },
      { service: 'test.First', source: 'dom0', input: endless, timeoutMs: 5000 },
    )
    expect(result).toMatchObject({ exitCode: 0 })
    expect(result.stdout.toString()).toBe('answer\n')
  })
})

describe("the stand-in follows qrexec's lookup rules", () => {
  it('SERVICE+ARG in every directory before SERVICE; directories in order', async () => {
    const dirs = await qube()
    const script = (dir: string, name: string, text: string) => {
      writeFileSync(join(dir, name), `#!/bin/sh\necho ${text}\n`)
      chmodSync(join(dir, name), 0o755)
    }
    script(dirs.run, 'test.Svc', 'run-plain')
    script(dirs.etc, 'test.Svc+special', 'etc-special')
    script(dirs.etc, 'test.Svc', 'etc-plain')
    const agent = { serviceDirs: [dirs.run, dirs.etc] }
    expect(
      (await callThroughAgent(agent, { service: 'test.Svc', argument: 'special', source: 'q' })).stdout.toString(),
    ).toBe('etc-special\n')
    expect(
      (await callThroughAgent(agent, { service: 'test.Svc', argument: 'other', source: 'q' })).stdout.toString(),
    ).toBe('run-plain\n')
  })
  it('a dangling link or a plain file is "not found" (127); a /dev/tcp link is a TCP service', async () => {
    const dirs = await qube()
    symlinkSync(join(dirs.etc, 'no-such-dir/socket'), join(dirs.etc, 'test.Dangling'))
    writeFileSync(join(dirs.etc, 'test.NotExec'), 'data')
    const agent = { serviceDirs: [dirs.etc] }
    expect((await callThroughAgent(agent, { service: 'test.Dangling', source: 'q' })).exitCode).toBe(EXIT_NOT_FOUND)
    expect((await callThroughAgent(agent, { service: 'test.NotExec', source: 'q' })).exitCode).toBe(EXIT_NOT_FOUND)
    expect((await callThroughAgent(agent, { service: 'test.Missing', source: 'q' })).exitCode).toBe(EXIT_NOT_FOUND)
    const tcp = createServer((socket) => socket.end('tcp says hi\n')).listen(0, '127.0.0.1')
    await new Promise((resolve) => tcp.once('listening', resolve))
    const port = (tcp.address() as { port: number }).port
    symlinkSync(`/dev/tcp/127.0.0.1/${port}`, join(dirs.etc, 'test.Tcp'))
    const result = await callThroughAgent(agent, { service: 'test.Tcp', source: 'q' })
    tcp.close()
    expect(result).toMatchObject({ kind: 'tcp', exitCode: 0 })
    expect(result.stdout.toString()).toBe('tcp says hi\n')
  })
  it('an executable gets argv[1] only for a non-empty argument, the QREXEC_* environment, and its exit code passes through', async () => {
    const dirs = await qube()
    writeFileSync(
      join(dirs.etc, 'test.Env'),
      '#!/bin/sh\necho "argc=$# arg1=${1-unset} remote=$QREXEC_REMOTE_DOMAIN full=$QREXEC_SERVICE_FULL_NAME arg=${QREXEC_SERVICE_ARGUMENT-unset} type=$QREXEC_REQUESTED_TARGET_TYPE stray=${QREXEC_STRAY-unset}"\necho log >&2\nexit 3\n',
    )
    chmodSync(join(dirs.etc, 'test.Env'), 0o755)
    const agent = { serviceDirs: [dirs.etc], env: { PATH: '/usr/bin:/bin', QREXEC_STRAY: 'x' } }
    const fromQube = await callThroughAgent(agent, { service: 'test.Env', source: 'anon-whonix' })
    expect(fromQube.stdout.toString()).toBe(
      'argc=0 arg1=unset remote=anon-whonix full=test.Env+ arg= type= stray=unset\n',
    )
    expect(fromQube).toMatchObject({ exitCode: 3, stderr: 'log\n' })
    const fromDom0 = await callThroughAgent(agent, { service: 'test.Env', source: 'dom0' })
    expect(fromDom0.stdout.toString()).toBe('argc=0 arg1=unset remote=dom0 full=test.Env arg=unset type= stray=unset\n')
    const withArgument = await callThroughAgent(agent, {
      service: 'test.Env',
      argument: 'a1',
      source: 'q',
      target: { type: 'name', value: 'dom0' },
    })
    expect(withArgument.stdout.toString()).toBe(
      'argc=1 arg1=a1 remote=q full=test.Env+a1 arg=a1 type=name stray=unset\n',
    )
  })
})
