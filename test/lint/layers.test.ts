import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'

// The layering rules of eslint.config.js, run by the real eslint over probe text standing in
// for an existing file of each layer.
const eslint = new ESLint()

async function ruleIds(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath })
  return (result?.messages ?? []).map((message) => message.ruleId ?? message.message)
}

const RESTRICTED = '@typescript-eslint/no-restricted-imports'

describe('import layers', () => {
  it('rpc/ never imports agent/', async () => {
    expect(
      await ruleIds('rpc/errors.ts', "import { runCommand } from '../agent/run'\nexport const probe = runCommand\n"),
    ).toContain(RESTRICTED)
  })

  it('infrastructure never imports a feature, nor the composition root at run time', async () => {
    expect(
      await ruleIds(
        'agent/generated/registry.ts',
        "import { aptGateFiles } from '../apt-gate/files'\nexport const probe = aptGateFiles\n",
      ),
    ).toContain(RESTRICTED)
    expect(
      await ruleIds(
        'agent/daemon/parts.ts',
        "import { stackedTorPart } from '../stacked-tor/part'\nexport const probe = stackedTorPart\n",
      ),
    ).toContain(RESTRICTED)
    expect(
      await ruleIds('agent/cli.ts', "import { COMMANDS } from './features'\nexport const probe = COMMANDS\n"),
    ).toContain(RESTRICTED)
  })

  it('infrastructure may name a type the root composes', async () => {
    expect(
      await ruleIds(
        'agent/manifest/schema.ts',
        "import type { manifestSchema } from '../features'\nexport type Probe = typeof manifestSchema\n",
      ),
    ).not.toContain(RESTRICTED)
  })

  it('shipped code never imports test/', async () => {
    expect(
      await ruleIds(
        'agent/simulate/build.ts',
        "import { AGENT } from '../../test/helpers/cli'\nexport const probe = AGENT\n",
      ),
    ).toContain(RESTRICTED)
  })

  it('a feature may use the infrastructure', async () => {
    expect(
      await ruleIds(
        'agent/apt-gate/files.ts',
        "import { textFile } from '../generated/file'\nexport const probe = textFile\n",
      ),
    ).not.toContain(RESTRICTED)
  })
})
