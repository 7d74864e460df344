import type { GatewayInterfaceReport } from './setup'

const RESULT: Readonly<Record<GatewayInterfaceReport['result'], string>> = {
  created: 'created',
  completed: 'completed (it existed without everything it needs)',
  unchanged: 'already as needed; nothing changed',
  'left-alone': 'exists and is of another kind than the agent creates; left as it is',
  'would-change': 'would change (dry run)',
  skipped: 'nothing to do',
}

/** The text of `gateway-interface`. */
export function formatGatewayInterface(report: GatewayInterfaceReport): string {
  if (!report.applicable) return `gateway-interface: nothing to do: ${report.reason}`
  const addresses =
    report.addresses === null
      ? []
      : [
          `${report.addresses.ipv4.address}/${report.addresses.ipv4.prefix}`,
          ...(report.addresses.ipv6 ? [`${report.addresses.ipv6.address}/128`] : []),
        ]
  return [
    `${report.interface}: ${RESULT[report.result]} (${addresses.join(', ')})`,
    ...report.commands.map((command) => `  $ ${command}`),
  ].join('\n')
}
