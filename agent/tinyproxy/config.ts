import { constants } from 'node:fs'
import { chown, open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { CodedError } from '../../rpc/errors'
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

async function readConfig(path: string): Promise<{ text: string; mode: number; uid: number; gid: number }> {
  let handle
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    throw new CodedError('TINYPROXY_CONFIG_UNREADABLE', `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error })
  }
  try {
    const info = await handle.stat()
    if (!info.isFile()) throw new CodedError('TINYPROXY_CONFIG_UNREADABLE', `${path} is not a regular file`)
    if (info.size > MAX_CONFIG_BYTES) throw new CodedError('TINYPROXY_CONFIG_UNREADABLE', `${path} is larger than ${MAX_CONFIG_BYTES} bytes`)
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1)
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0)
    if (bytesRead > MAX_CONFIG_BYTES) throw new CodedError('TINYPROXY_CONFIG_UNREADABLE', `${path} is larger than ${MAX_CONFIG_BYTES} bytes`)
    return { text: buffer.subarray(0, bytesRead).toString('utf8'), mode: info.mode & 0o7777, uid: info.uid, gid: info.gid }
  } finally {
    await handle.close()
  }
}

/** Replaces `path` whole or not at all, keeping its mode and (as root) its owner. */
async function replaceFile(path: string, text: string, like: { mode: number; uid: number; gid: number }): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`)
  const handle = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, like.mode)
  try {
    await handle.chmod(like.mode)
    if (process.getuid?.() === 0) await chown(temporary, like.uid, like.gid)
    await handle.writeFile(text)
    await handle.sync()
    await handle.close()
    await rename(temporary, path)
  } catch (error) {
    await handle.close().catch(() => undefined)
    await rm(temporary, { force: true })
    throw error
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
  const edit = withBlock(current.text, blockSpec(context), context.manifest.paths.tinyproxyConfig)
  if (edit.changed) await replaceFile(path, edit.text, current)
  return { path: context.manifest.paths.tinyproxyConfig, changed: edit.changed, foreignUpstreams: edit.foreignUpstreams }
}

/** Whether tinyproxy's config carries our block as it should be; the error says why not. */
export async function inspectTinyproxyBlock(context: AgentContext): Promise<{ configured: boolean; error: string | null }> {
  try {
    const { text } = await readConfig(context.paths.tinyproxyConfig)
    return hasBlock(text, blockSpec(context)) ? { configured: true, error: null } : { configured: false, error: 'our block is missing or differs (run: updates-proxy setup-tinyproxy)' }
  } catch (error) {
    return { configured: false, error: (error as Error).message }
  }
}
