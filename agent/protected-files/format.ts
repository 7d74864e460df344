import { basename } from 'node:path'
import type { ProtectedFileReport, ProtectedFilesReport } from './report'

const VERDICT: Readonly<Record<ProtectedFilesReport['verdict'], string>> = {
  ok: 'ok: Qubes leaves them alone and they hold what Whonix expects',
  problems: 'PROBLEMS (see protected-files check)',
  'not-applicable': 'not applicable (not a Whonix qube)',
}

/** One line for `status`. */
export function protectedFilesSummary(report: ProtectedFilesReport): string {
  const unprotected = report.files.filter((file) => !file.protected).length
  const unexpected = report.files.filter(
    (file) => file.content === 'unexpected' || file.content === 'unreadable',
  ).length
  const counts =
    report.verdict === 'problems' ? ` (${unprotected} not protected, ${unexpected} with unexpected content)` : ''
  return `${VERDICT[report.verdict]}${counts}`
}

function fileLine(file: ProtectedFileReport, width: number): string {
  const protection = file.protected
    ? `protected by ${file.listedIn.map((list) => basename(list)).join(', ')}`
    : 'NOT PROTECTED'
  const content =
    file.content === 'expected'
      ? 'content as Whonix expects'
      : file.content === 'unexpected'
        ? `UNEXPECTED: ${file.detail ?? ''}`
        : file.content === 'unreadable'
          ? `UNREADABLE: ${file.detail ?? ''}`
          : file.content
  return `  ${file.path.padEnd(width)}  ${protection}; ${content}`
}

/** The text of `protected-files check`: base files always, variants when present, wrong or asked for. */
export function formatProtectedFiles(report: ProtectedFilesReport, verbose: boolean): string {
  // Nothing of Whonix to keep: a list of "NOT PROTECTED" files would only contradict the verdict.
  if (report.verdict === 'not-applicable') return `Protected files: ${protectedFilesSummary(report)}; nothing checked`
  const shown = report.files.filter((file) => verbose || !file.variant || file.exists !== 'missing' || !file.protected)
  const width = Math.max(...shown.map((file) => file.path.length))
  return [
    `Protected files: ${protectedFilesSummary(report)}`,
    ...report.listDirectories.map((directory) => `  list directory ${directory.path}: ${directory.state}`),
    ...shown.map((file) => fileLine(file, width)),
    ...(verbose ? [] : ['  (suffixed copies that do not exist are hidden; --verbose shows them)']),
    ...report.problems.map((problem) => `warning: ${problem}`),
  ].join('\n')
}
