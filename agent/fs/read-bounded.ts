import { constants } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { CodedError } from '../../rpc/errors'

// Never waits for a writer (FIFO) nor takes a terminal.
export const READ_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY

/** Reads an open regular file whole, refusing more than `maxBytes` (the file may grow while read). */
export async function readOpened(handle: FileHandle, path: string, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let length = 0
  for (;;) {
    // One byte past the bound tells a file over it.
    const chunk = Buffer.alloc(Math.min(64 * 1024, maxBytes + 1 - length))
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, length)
    if (bytesRead === 0) break
    chunks.push(chunk.subarray(0, bytesRead))
    length += bytesRead
    if (length > maxBytes) throw new CodedError('FILE_TOO_LARGE', `${path} is larger than ${maxBytes} bytes`)
  }
  return Buffer.concat(chunks, length)
}

/**
 * Reads a regular file a person named (links followed), at most `maxBytes`: a FIFO, a
 * device (/dev/zero) or a directory is refused at once, never read.
 */
export async function readBounded(path: string, maxBytes: number): Promise<Buffer> {
  const handle = await open(path, READ_FLAGS)
  try {
    const opened = await handle.stat()
    if (!opened.isFile()) throw new CodedError('NOT_A_FILE', 'not a regular file')
    if (opened.size > maxBytes) throw new CodedError('FILE_TOO_LARGE', `larger than ${maxBytes} bytes`)
    return await readOpened(handle, path, maxBytes)
  } finally {
    await handle.close()
  }
}
