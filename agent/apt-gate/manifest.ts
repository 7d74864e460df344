import { absolutePath, fileName, integer, list, object, string } from '../manifest/check'

// The `aptGate:` section of qubes.yaml (docs/apt-gate.md).

const oneLine = (maxLength: number) => string({ pattern: /^[^\n\r\0]+$/, maxLength })
const shellWord = string({ pattern: /^[A-Za-z0-9._/+-]+$/, maxLength: 255 })

export const aptGateSection = object({
  commands: list(shellWord, { min: 1, unique: true }),
  wrapperSuffix: string({ pattern: /^\.[A-Za-z0-9._-]+$/, maxLength: 64 }),
  unwrap: list(absolutePath, { min: 1, unique: true }),
  skip: object({ variable: string({ pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, maxLength: 64 }), value: shellWord }),
  timeoutMs: integer(1_000, 3_600_000),
  recheckMs: integer(50, 60_000),
  healthTimeoutMs: integer(100, 30_000),
  gateName: oneLine(200),
  files: object({
    uwtDropIn: absolutePath,
    aptHook: absolutePath,
    aptHookScript: absolutePath,
    userUnitDir: absolutePath,
  }),
  alert: object({
    delayMs: integer(0, 3_600_000),
    unit: fileName,
    timeoutMs: integer(100, 60_000),
    appName: oneLine(64),
  }),
  help: object({
    gatewayQube: string({ pattern: /^[A-Za-z][A-Za-z0-9_.-]*$/, maxLength: 31 }),
    updatesTag: string({ pattern: /^[A-Za-z0-9_-]+$/, maxLength: 64 }),
    policyFile: absolutePath,
    policyLine: oneLine(300),
    wiki: string({ pattern: /^https:\/\/[^\s]+$/, maxLength: 300 }),
  }),
})
