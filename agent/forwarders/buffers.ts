/**
 * Read buffers shared by all forwarded connections. A connection reads into a small
 * buffer while it is quiet and into a large one while it moves bulk data; each buffer
 * goes back to its pool when done, so steady traffic allocates nothing.
 */
export class BufferPool {
  private readonly spare: Buffer[] = []

  constructor(
    readonly size: number,
    private readonly maxSpare: number,
  ) {}

  take(): Buffer {
    // Never zero-filled: only the bytes just read from a socket are ever sent on.
    return this.spare.pop() ?? Buffer.allocUnsafeSlow(this.size)
  }

  give(buffer: Buffer): void {
    if (buffer.length === this.size && this.spare.length < this.maxSpare) this.spare.push(buffer)
  }

  get spareCount(): number {
    return this.spare.length
  }
}

export interface BufferPools {
  readonly small: BufferPool
  readonly large: BufferPool
}

export const SMALL_BUFFER_BYTES = 16 * 1024
export const LARGE_BUFFER_BYTES = 256 * 1024

export function createBufferPools(maxSpare = 16): BufferPools {
  return { small: new BufferPool(SMALL_BUFFER_BYTES, maxSpare * 8), large: new BufferPool(LARGE_BUFFER_BYTES, maxSpare) }
}
