/** The content of file `index` in generation `label`: sizes from 1 KiB to 192 KiB, every line naming both. */
export function contentFor(index: number, label: string): string {
  const size = index % 5 === 0 ? 192 * 1024 : 1024 * (1 + ((index * 7 + label.length) % 24))
  const line = `${label} file ${index} nameserver 10.152.152.10 SocksPort 10.152.152.10:9050\n`
  return line.repeat(Math.ceil(size / line.length))
}

export const fileName = (index: number) => `f${index}`
