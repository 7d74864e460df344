import { renderPolicyRule, type PolicyRule } from '../../rpc/policy'
import { ROLE_SELECTORS } from '../services/selectors'
import {
  boolean,
  integer,
  list,
  object,
  oneOf,
  optional,
  record,
  string,
  ManifestIssue,
  type Checker,
  type Checked,
} from './check'
import { unitName, userName } from './validators'

// The `services:` section: the qrexec services of the agent and who may call them.

const serviceName = string({ pattern: /^[A-Za-z0-9._-]+$/, maxLength: 255 })
const handlerName = string({ pattern: /^[a-z][a-z0-9-]*$/, maxLength: 64 })

const limitKeys = {
  descriptorTimeoutMs: integer(10, 600_000),
  totalTimeoutMs: integer(10, 24 * 3600_000),
  maxInputBytes: integer(0, 1024 ** 3),
  maxConcurrent: integer(1, 10_000),
}
const shareKeys = {
  maxPerSource: optional(integer(1, 10_000)),
  inputStallTimeoutMs: optional(integer(10, 24 * 3600_000)),
}
const limits = object({ ...limitKeys, ...shareKeys })
const limitOverrides = object({
  descriptorTimeoutMs: optional(limitKeys.descriptorTimeoutMs),
  totalTimeoutMs: optional(limitKeys.totalTimeoutMs),
  maxInputBytes: optional(limitKeys.maxInputBytes),
  maxConcurrent: optional(limitKeys.maxConcurrent),
  ...shareKeys,
})

/** One line of the dom0 policy for this service; the validator of rpc/policy.ts checks it. */
const policyLine: Checker<Omit<PolicyRule, 'service'>> = (untrusted, at) => {
  const line = object({
    argument: optional(string({ maxLength: 256 })),
    source: string({ maxLength: 64 }),
    target: string({ maxLength: 64 }),
    action: oneOf(['allow', 'ask', 'deny'] as const),
    params: optional(record(string({ maxLength: 64 }), string({ pattern: /^[a-z_]+$/ }))),
  })(untrusted, at)
  const rule = {
    argument: line.argument ?? '*',
    source: line.source,
    target: line.target,
    action: line.action,
    ...(line.params ? { params: line.params } : {}),
  }
  try {
    renderPolicyRule({ service: 'x', ...rule })
  } catch (error) {
    throw new ManifestIssue(at, (error as Error).message)
  }
  return rule
}

/** `/etc/qubes/rpc-config/SERVICE` options; skip-service-descriptor is refused: the daemon needs the caller's name. */
const rpcConfig: Checker<RpcConfigOptions> = (untrusted, at) => {
  const options = object({
    exitOnServiceEof: optional(boolean),
    exitOnClientEof: optional(boolean),
    waitForSession: optional(boolean),
    forceUser: optional(userName),
  })(untrusted, at)
  const socketOption =
    options.exitOnServiceEof !== undefined ||
    options.exitOnClientEof !== undefined ||
    options.waitForSession !== undefined
  if (options.forceUser !== undefined && socketOption)
    throw new ManifestIssue(
      [...at, 'forceUser'],
      'forceUser cannot be combined with exitOnServiceEof, exitOnClientEof or waitForSession (qrexec refuses it)',
    )
  return options
}
export interface RpcConfigOptions {
  exitOnServiceEof?: boolean
  exitOnClientEof?: boolean
  waitForSession?: boolean
  forceUser?: string
}

const service = object({
  handler: handlerName,
  servedBy: list(oneOf(ROLE_SELECTORS), { min: 1, unique: true }),
  callers: list(policyLine),
  limits: optional(limitOverrides),
  rpcConfig: optional(rpcConfig),
  describe: string({ maxLength: 200 }),
})

export const servicesSection = object({
  defaultLimits: limits,
  drainTimeoutMs: integer(0, 600_000),
  memoryRelease: object({ quietMs: integer(100, 600_000), minGrowthKiB: integer(0, 1_048_576) }),
  policyFile: string({ pattern: /^[0-9]{2}-[a-z0-9-]+\.policy$/, maxLength: 64 }),
  units: object({
    service: string({ pattern: /^[a-z0-9-]+\.service$/, maxLength: 64 }),
    socketPrefix: string({ pattern: /^[a-z0-9-]+-$/, maxLength: 64 }),
    after: list(unitName),
  }),
  table: record(service, serviceName),
})

export type ServicesSection = Checked<typeof servicesSection>
export type ServiceEntry = Checked<typeof service>
