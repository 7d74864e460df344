import { posix } from 'node:path'
import { CodedError } from '../../rpc/errors'
import { renderPolicyRule, validatePolicyFile } from '../../rpc/policy'
import type { Manifest } from '../manifest/schema'

/** The dom0 policy file's path and text, from every service's `callers`. */
export function policyFile(manifest: Manifest): { path: string; content: string } {
  const { services, paths } = manifest
  const lines = [
    '# qubes-whonix-agent: who may call the qrexec services of Whonix qubes (Qubes 4.2 format).',
    '# Generated from the manifest (qubes-whonix-agent files show PATH); do not edit: put your',
    '# own rules in 30-user-*.policy, which is read before this file (the first match wins).',
    "# dom0's own calls (qrexec-client) are not subject to policy.",
  ]
  for (const [service, entry] of Object.entries(services.table).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (entry.callers.length === 0) continue
    lines.push('', `# ${service}: ${entry.describe}`)
    for (const caller of entry.callers) lines.push(renderPolicyRule({ service, ...caller }))
  }
  const content = `${lines.join('\n')}\n`
  // A syntax error in any policy file makes every qrexec call of the system fail.
  const problems = validatePolicyFile(content)
  if (problems.length > 0)
    throw new CodedError(
      'POLICY_INVALID',
      `generated policy is invalid: line ${problems[0]?.line}: ${problems[0]?.message}`,
    )
  return { path: posix.join(paths.qrexecPolicyDir, services.policyFile), content }
}
