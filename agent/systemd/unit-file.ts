/** A systemd unit file: sections of `Key=value` lines, in order; an array value repeats the key. */
export type UnitSections = Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>

export function renderUnit(comment: string, sections: UnitSections): string {
  const blocks = Object.entries(sections).map(([name, keys]) => {
    const lines = Object.entries(keys).flatMap(([key, value]) => (typeof value === 'string' ? [value] : value).map((one) => `${key}=${one}`))
    return [`[${name}]`, ...lines].join('\n')
  })
  return `${comment.split('\n').map((line) => `# ${line}`).join('\n')}\n\n${blocks.join('\n\n')}\n`
}
