import type { FileFact, RoleFacts } from './facts'

export type WhonixFlavour = 'gateway' | 'workstation'
export type QubeClass = 'template' | 'app' | 'disposable' | 'standalone' | 'net' | 'proxy'
export type Persistence = 'full' | 'rw-only' | 'none'

/** The stable answer of `role --json` and `whonix.Role` (schema in docs/json-schemas.md). */
export interface Role {
  readonly schema: 1
  readonly qubes: boolean
  readonly whonix: WhonixFlavour | null
  readonly class: QubeClass | null
  readonly providesNetwork: boolean
  readonly persistence: Persistence | null
  readonly name: string | null
  readonly services: readonly string[]
  readonly evidence: Readonly<Record<'qubes' | 'whonix' | 'class' | 'providesNetwork' | 'persistence' | 'name' | 'services', readonly string[]>>
  readonly warnings: readonly string[]
}

const CLASS_OF_TYPE: Readonly<Record<string, QubeClass>> = { TemplateVM: 'template', DispVM: 'disposable', StandaloneVM: 'standalone' }
const CLASS_OF_VM_TYPE: Readonly<Record<string, QubeClass>> = { TemplateVM: 'template', AppVM: 'app', ProxyVM: 'proxy', NetVM: 'net' }

function qubesdbValue(facts: RoleFacts, key: keyof RoleFacts['qubesdb'], warnings: string[]): string | null {
  const read = facts.qubesdb[key]
  if (read.state === 'present') return read.value
  if (read.state === 'invalid' || read.state === 'failed') warnings.push(`qubesdb ${key}: ${read.reason}; not used`)
  return null
}

function present<K extends string>(markers: Readonly<Record<K, FileFact>>, dir: string, names: readonly K[], warnings: string[]): K[] {
  for (const name of names) {
    if (markers[name] === 'not-a-file') warnings.push(`${dir}: the ${name} marker is not a regular file; ignored`)
    if (markers[name] === 'unreadable') warnings.push(`${dir}: the ${name} marker cannot be checked (permission denied)`)
  }
  return names.filter((name) => markers[name] === 'present')
}

/** Pure: decides the role from gathered facts. Disagreements become warnings, never guesses. */
export function detectRole(facts: RoleFacts, markerFile: (group: 'type' | 'persistence', key: string) => string): Role {
  const warnings: string[] = []
  const evidence: Record<keyof Role['evidence'], string[]> = { qubes: [], whonix: [], class: [], providesNetwork: [], persistence: [], name: [], services: [] }
  const qubes = facts.qubesdbProgram !== null
  const typeFiles = present(facts.typeMarkers, facts.sources.runQubes ?? '', ['template', 'app', 'net', 'proxy'] as const, warnings)
  const persistenceFiles = present(facts.persistenceMarkers, facts.sources.runQubes ?? '', ['full', 'rw-only', 'none'] as const, warnings)

  evidence.qubes.push(qubes ? `qubesdb-read found at ${facts.qubesdbProgram}` : 'no qubesdb-read on the root or on PATH')
  if (!qubes && typeFiles.length > 0) warnings.push(`Qubes marker files exist (${typeFiles.map((k) => markerFile('type', k)).join(', ')}) but qubesdb-read is missing`)

  // Whonix flavour: the marker files, in templates too.
  const [gatewayMarker, workstationMarker] = [facts.whonixMarkers.gateway, facts.whonixMarkers.workstation]
  for (const [flavour, fact] of [['gateway', gatewayMarker], ['workstation', workstationMarker]] as const) {
    if (fact === 'unreadable') warnings.push(`the ${flavour} marker ${facts.sources[`${flavour}Marker`]} cannot be checked (permission denied)`)
    if (fact === 'not-a-file') warnings.push(`the ${flavour} marker ${facts.sources[`${flavour}Marker`]} is not a regular file; ignored`)
  }
  let whonix: WhonixFlavour | null = null
  if (gatewayMarker === 'present' && workstationMarker === 'present') {
    warnings.push('both the gateway and the workstation marker exist; Whonix flavour left undecided')
    evidence.whonix.push(`${facts.sources.gatewayMarker} exists`, `${facts.sources.workstationMarker} exists`)
  } else if (gatewayMarker === 'present') {
    whonix = 'gateway'
    evidence.whonix.push(`${facts.sources.gatewayMarker} exists`)
  } else if (workstationMarker === 'present') {
    whonix = 'workstation'
    evidence.whonix.push(`${facts.sources.workstationMarker} exists`)
  } else {
    evidence.whonix.push('neither Whonix marker file exists')
  }

  const type = qubesdbValue(facts, '/type', warnings)
  const vmType = qubesdbValue(facts, '/qubes-vm-type', warnings)
  const dbPersistence = qubesdbValue(facts, '/qubes-vm-persistence', warnings)
  const name = qubesdbValue(facts, '/name', warnings)

  let qubeClass: QubeClass | null = null
  if (qubes) {
    if (type !== null && CLASS_OF_TYPE[type]) {
      qubeClass = CLASS_OF_TYPE[type] ?? null
      evidence.class.push(`qubesdb /type = ${type}`)
    } else if (vmType !== null) {
      qubeClass = CLASS_OF_VM_TYPE[vmType] ?? null
      evidence.class.push(...(type === null ? [] : [`qubesdb /type = ${type}`]), `qubesdb /qubes-vm-type = ${vmType}`)
    } else if (typeFiles.length === 1) {
      qubeClass = typeFiles[0] ?? null
      evidence.class.push(`${markerFile('type', typeFiles[0] ?? '')} exists (qubesdb gave no type)`)
    } else {
      evidence.class.push('qubesdb gave no type and the marker files do not decide')
      warnings.push('qube class unknown: qubesdb gave no type and the marker files do not decide')
    }
    if (type === 'TemplateVM' && vmType !== null && vmType !== 'TemplateVM') warnings.push(`qubesdb /type is TemplateVM but /qubes-vm-type is ${vmType}`)
    if (typeFiles.length > 1) warnings.push(`several qube type markers exist: ${typeFiles.map((k) => markerFile('type', k)).join(', ')}`)
    const isTemplate = qubeClass === 'template'
    if (typeFiles.includes('template') !== isTemplate && (vmType !== null || type !== null))
      warnings.push(isTemplate ? `qubesdb says template but ${markerFile('type', 'template')} is missing` : `${markerFile('type', 'template')} exists but qubesdb says ${type ?? vmType}`)
    const networkFiles = typeFiles.filter((k) => k === 'net' || k === 'proxy')
    if (vmType !== null && networkFiles.length > 0 && !networkFiles.includes(CLASS_OF_VM_TYPE[vmType] as 'net' | 'proxy'))
      warnings.push(`qubesdb /qubes-vm-type is ${vmType} but ${networkFiles.map((k) => markerFile('type', k)).join(', ')} exists`)
  } else {
    evidence.class.push('not a Qubes qube')
  }

  let providesNetwork = false
  if (!qubes) evidence.providesNetwork.push('not a Qubes qube')
  else if (vmType !== null) {
    providesNetwork = vmType === 'ProxyVM' || vmType === 'NetVM'
    evidence.providesNetwork.push(`qubesdb /qubes-vm-type = ${vmType}`)
  } else {
    const networkFile = typeFiles.find((k) => k === 'net' || k === 'proxy')
    providesNetwork = networkFile !== undefined
    evidence.providesNetwork.push(networkFile ? `${markerFile('type', networkFile)} exists` : 'no qubesdb /qubes-vm-type and no network marker file')
  }

  let persistence: Persistence | null = null
  if (qubes) {
    if (dbPersistence !== null) {
      persistence = dbPersistence as Persistence
      evidence.persistence.push(`qubesdb /qubes-vm-persistence = ${dbPersistence}`)
      if (persistenceFiles.length > 0 && !persistenceFiles.includes(persistence))
        warnings.push(`qubesdb /qubes-vm-persistence is ${dbPersistence} but ${persistenceFiles.map((k) => markerFile('persistence', k)).join(', ')} exists`)
    } else if (persistenceFiles.length === 1) {
      persistence = persistenceFiles[0] ?? null
      evidence.persistence.push(`${markerFile('persistence', persistenceFiles[0] ?? '')} exists`)
    } else {
      evidence.persistence.push('qubesdb gave no persistence and the marker files do not decide')
      if (persistenceFiles.length > 1) warnings.push(`several persistence markers exist: ${persistenceFiles.join(', ')}`)
    }
  } else evidence.persistence.push('not a Qubes qube')

  evidence.name.push(name === null ? 'qubesdb gave no /name' : `qubesdb /name = ${name}`)
  evidence.services.push(`entries of ${facts.sources.runQubesService}`)
  if (facts.services.error) warnings.push(facts.services.error)
  if (facts.services.rejected.length > 0) warnings.push(`ignored invalid Qubes service names: ${facts.services.rejected.join(', ')}`)

  if (qubes && whonix === 'gateway' && qubeClass !== 'template' && qubeClass !== null && !providesNetwork)
    warnings.push('this qube carries the Whonix-Gateway marker but provides no network (is provides_network set in dom0?)')
  if (qubes && whonix === 'workstation' && providesNetwork)
    warnings.push('this qube carries the Whonix-Workstation marker but provides network to other qubes')

  return { schema: 1, qubes, whonix, class: qubeClass, providesNetwork, persistence, name, services: [...facts.services.names], evidence, warnings }
}
