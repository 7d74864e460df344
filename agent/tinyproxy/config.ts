import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { CodedError, errnoCode } from '../../rpc/errors'
import { writeFileAtomic } from '../fs/atomic-write'
import type { AgentContext } from '../context'
import { withBlock, hasBlock, type BlockSpec } from './block'

const MAX_CONFIG_BYTES = 1024 * 1024

/** Our block: tinyproxy fetches everything over Tor's apt SocksPort and answers errors with our page. */
export function blockSpec(context: AgentContext): BlockSpec {
  const { gateway } = context.manifest.updatesProxy
  return {
    begin: gateway.configBegin,
    end: gateway.configEnd,
    lines: [`Upstream ${gateway.upstream}`, `DefaultErrorFile "${context.paths.tinyproxyErrorPage}"`],
  }
}

/**
 * The config is edited as Latin-1 text: one character per byte, so every byte outside our
 * block (a Latin-1 comment, invalid UTF-8) is written back exactly as it was read. Our own
 * lines are turned into the Latin-1 spelling of their UTF-8 bytes the same way.
 */
const fromUtf8 = (text: string) => Buffer.from(text, 'utf8').toString('latin1')
const latin1Spec = (spec: BlockSpec): BlockSpec => ({
  begin: fromUtf8(spec.begin),
  end: fromUtf8(spec.end),
  lines: spec.lines.map(fromUtf8),
})

async function readConfig(path: string): Promise<{ text: string }> {
  let handle
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    throw new CodedError(
      'TINYPROXY_CONFIG_UNREADABLE',
      `cannot read ${path}: ${errnoCode(error) ?? (error as Error).message}`,
      { cause: error },
    )
  }
  try {
    const info = await handle.stat()
    if (!info.isFile()) throw new CodedError('TINYPROXY_CONFIG_UNREADABLE', `${path} is not a regular file`)
    if (info.size > MAX_CONFIG_BYTES)
      throw new CodedError('TINYPROXY_CONFIG_UNREADABLE', `${path} is larger than ${MAX_CONFIG_BYTES} bytes`)
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1)
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0)
    if (bytesRead > MAX_CONFIG_BYTES)
      throw new CodedError('TINYPROXY_CONFIG_UNREADABLE', `${path} is larger than ${MAX_CONFIG_BYTES} bytes`)
    return { text: buffer.subarray(0, bytesRead).toString('latin1') }
  } finally {
    await handle.close()
  }
}

export interface TinyproxyEdit {
  readonly path: string
  readonly changed: boolean
  readonly foreignUpstreams: readonly string[]
}

/** Puts our block into tinyproxy's config (idempotent: a second run changes nothing). */
export async function applyTinyproxyBlock(context: AgentContext): Promise<TinyproxyEdit> {
  const path = context.paths.tinyproxyConfig
  const current = await readConfig(path)
  const edit = withBlock(current.text, latin1Spec(blockSpec(context)), context.manifest.paths.tinyproxyConfig)
  // Whole or not at all, keeping the file's mode and owner (agent/fs/atomic-write).
  if (edit.changed) await writeFileAtomic(path, Buffer.from(edit.text, 'latin1'), { root: context.paths.root })
  const foreignUpstreams = edit.foreignUpstreams.map((line) => Buffer.from(line, 'latin1').toString('utf8'))
  return { path: context.manifest.paths.tinyproxyConfig, changed: edit.changed, foreignUpstreams }
}

/** Whether tinyproxy's config carries our block as it should be; the error says why not. */
export async function inspectTinyproxyBlock(
  context: AgentContext,
): Promise<{ configured: boolean; error: string | null }> {
  try {
    const { text } = await readConfig(context.paths.tinyproxyConfig)
    return hasBlock(text, latin1Spec(blockSpec(context)))
      ? { configured: true, error: null }
      : { configured: false, error: 'our block is missing or differs (run: updates-proxy setup-tinyproxy)' }
  } catch (error) {
    return { configured: false, error: (error as Error).message }
  }
}
