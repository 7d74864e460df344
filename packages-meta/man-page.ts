import type { HelpEntry } from './help-text'

// The man page of the agent (section 1), in roff, from the shipped program's own help and
// the generated-files registry.

export interface ManCommand {
  readonly usage: string
  readonly describe: string
  readonly entries: readonly HelpEntry[]
}

export interface ManPageInput {
  readonly name: string
  readonly version: string
  /** YYYY-MM-DD */
  readonly date: string
  readonly summary: string
  readonly description: string
  readonly commands: readonly ManCommand[]
  readonly options: readonly HelpEntry[]
  readonly files: readonly { readonly path: string; readonly purpose: string }[]
}

/** Text for roff: backslashes and hyphens escaped, no line starting with a control character. */
export function roffText(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n')
}

const bold = (text: string) => `\\fB${roffText(text)}\\fR`
const tagged = (tag: string, text: string) => ['.TP', tag, roffText(text)]

export function renderManPage(page: ManPageInput): string {
  const title = page.name.toUpperCase()
  const lines = [
    `.TH ${roffText(title)} 1 ${page.date} "${roffText(page.name)} ${roffText(page.version)}" "User Commands"`,
    '.SH NAME',
    `${roffText(page.name)} \\- ${roffText(page.summary)}`,
    '.SH SYNOPSIS',
    `${bold(page.name)} [\\fIoptions\\fR] \\fIcommand\\fR [\\fIarguments\\fR]`,
    '.SH DESCRIPTION',
    roffText(page.description),
    '.SH COMMANDS',
  ]
  for (const command of page.commands) {
    lines.push(...tagged(bold(command.usage), command.describe))
    for (const entry of command.entries) lines.push('.RS', ...tagged(bold(entry.name), entry.text), '.RE')
  }
  lines.push('.SH OPTIONS', 'These apply to every command.')
  for (const option of page.options) lines.push(...tagged(bold(option.name), option.text))
  lines.push(
    '.SH EXIT STATUS',
    ...tagged('0', 'Success.'),
    ...tagged('1', 'A known failure, told in one line on standard error.'),
    ...tagged('2', 'A usage error.'),
    ...tagged('70', 'A bug: the program prints a stack trace; please report it.'),
    '.PP',
    roffText(
      'Commands that keep an upstream contract (the updates-proxy check, the apt gate) document their own codes.',
    ),
    '.SH FILES',
    roffText(`The files the package installs besides the program, as \`${page.name} files list\` prints them:`),
  )
  for (const file of page.files) lines.push(...tagged(`\\fI${roffText(file.path)}\\fR`, file.purpose))
  lines.push('.SH SEE ALSO', '\\fBqrexec\\-client\\-vm\\fR(1), \\fBsystemd\\-sysusers\\fR(8), \\fBdpkg\\-divert\\fR(1)')
  return `${lines.join('\n')}\n`
}
