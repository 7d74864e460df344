/** Open calls counted per source qube, each source up to its share. */
export class SourceShares {
  private readonly open = new Map<string, number>()

  constructor(private readonly share: number) {}

  /** Counts one more call of `source`; false (nothing counted) when its share is taken. */
  take(source: string): boolean {
    const count = this.open.get(source) ?? 0
    if (count >= this.share) return false
    this.open.set(source, count + 1)
    return true
  }

  give(source: string): void {
    const count = (this.open.get(source) ?? 0) - 1
    if (count <= 0) this.open.delete(source)
    else this.open.set(source, count)
  }
}
