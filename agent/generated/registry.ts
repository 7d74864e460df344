import { CodedError } from '../../rpc/errors'
import type { Manifest } from '../manifest/schema'
import type { FileGenerator, GeneratedFile } from './file'
import { torBrowserProfile } from '../tor-state/profile'
import { qrexecFiles } from '../qrexec-files/files'
import { packagingFiles } from '../packaging/files'
import { aptGateFiles } from '../apt-gate/files'
import { updatesProxyFiles } from '../updates-proxy/files'
import { updatesGateFiles } from '../updates-gate/files'
import { protectedFilesList } from '../protected-files/list-file'
import { replaceIpsUnit } from '../replace-ips/unit'
import { gatewayInterfaceUnit } from '../gateway-interface/unit'
import { firewallUnit } from '../firewall/unit'

// Each feature adds its generator here with one line.
export const GENERATORS: readonly FileGenerator[] = [
  torBrowserProfile,
  qrexecFiles,
  packagingFiles,
  aptGateFiles,
  updatesProxyFiles,
  updatesGateFiles,
  protectedFilesList,
  replaceIpsUnit,
  gatewayInterfaceUnit,
  firewallUnit,
]

export function generatedFiles(manifest: Manifest, generators: readonly FileGenerator[] = GENERATORS): GeneratedFile[] {
  const files = generators.flatMap((generate) => generate(manifest))
  const seen = new Set<string>()
  for (const file of files) {
    if (seen.has(file.path)) throw new CodedError('GENERATED_FILE_CLASH', `two generators produce ${file.path}`)
    seen.add(file.path)
  }
  return files.sort((a, b) => a.path.localeCompare(b.path))
}
