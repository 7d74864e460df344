/** A systemd unit file: sections of `Key=value` lines, in order; an array value repeats the key. */
export type UnitSections = Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>

export function renderUnit(comment: string, sections: UnitSections): string {
  const blocks = Object.entries(sections).map(([name, keys]) => {
    const lines = Object.entries(keys).flatMap(([key, value]) =>
      (typeof value === 'string' ? [value] : value).map((one) => `${key}=${one}`),
    )
    return [`[${name}]`, ...lines].join('\n')
  })
  return `${comment
    .split('\n')
    .map((line) => `# ${line}`)
    .join('\n')}\n\n${blocks.join('\n\n')}\n`
}

export interface BootStep {
  readonly comment: string
  readonly description: string
  readonly conditions: readonly string[]
  readonly command: string
}

/** A oneshot that runs once per boot, after Qubes has set the qube up and before Tor starts. */
export function bootStepUnit(
  systemd: { readonly bootAfter: readonly string[]; readonly torUnit: string; readonly oneshotTimeoutSec: number },
  step: BootStep,
): string {
  return renderUnit(step.comment, {
    Unit: {
      Description: step.description,
      ConditionPathExists: step.conditions,
      After: systemd.bootAfter.join(' '),
      Before: systemd.torUnit,
    },
    Service: {
      Type: 'oneshot',
      RemainAfterExit: 'yes',
      ExecStart: step.command,
      TimeoutStartSec: String(systemd.oneshotTimeoutSec),
    },
    Install: { WantedBy: 'multi-user.target' },
  })
}
