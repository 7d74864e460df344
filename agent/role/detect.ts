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
  readonly evidence: Readonly<
    Record<'qubes' | 'whonix' | 'class' | 'providesNetwork' | 'persistence' | 'name' | 'services', readonly string[]>
  >
  readonly warnings: readonly string[]
}

const CLASS_OF_TYPE: Readonly<Record<string, QubeClass>> = {
  TemplateVM: 'template',
  DispVM: 'disposable',
  StandaloneVM: 'standalone',
}
const CLASS_OF_VM_TYPE: Readonly<Record<string, QubeClass>> = {
  TemplateVM: 'template',
  AppVM: 'app',
  ProxyVM: 'proxy',
  NetVM: 'net',
}

function qubesdbValue(facts: RoleFacts, key: keyof RoleFacts['qubesdb'], warnings: string[]): string | null {
  const read = facts.qubesdb[key]
  if (read.state === 'present') return read.value
  if (read.state === 'invalid' || read.state === 'failed') warnings.push(`qubesdb ${key}: ${read.reason}; not used`)
  return null
}

function present<K extends string>(
  markers: Readonly<Record<K, FileFact>>,
  dir: string,
  names: readonly K[],
  warnings: string[],
): K[] {
  for (const name of names) {
    if (markers[name] === 'not-a-file') warnings.push(`${dir}: the ${name} marker is not a regular file; ignored`)
    if (markers[name] === 'unreadable')
      warnings.push(`${dir}: the ${name} marker cannot be checked (permission denied)`)
  }
  return names.filter((name) => markers[name] === 'present')
}

type MarkerFile = (group: 'type' | 'persistence', key: string) => string
type TypeMarker = 'template' | 'app' | 'net' | 'proxy'
type Evidence = Record<keyof Role['evidence'], string[]>

/** What the steps find besides their answer: evidence per fact, and warnings in the order found. */
interface Notes {
  readonly evidence: Evidence
  readonly warnings: string[]
}

/** What qubesdb said, each value null when missing or unusable. */
interface QubesdbValues {
  readonly type: string | null
  readonly vmType: string | null
  readonly persistence: string | null
  readonly name: string | null
}

/** Pure: decides the role from gathered facts. Disagreements become warnings, never guesses. */
export function detectRole(facts: RoleFacts, markerFile: MarkerFile): Role {
  const notes: Notes = {
    warnings: [],
    evidence: { qubes: [], whonix: [], class: [], providesNetwork: [], persistence: [], name: [], services: [] },
  }
  const qubes = facts.qubesdbProgram !== null
  const typeFiles = present(
    facts.typeMarkers,
    facts.sources.runQubes ?? '',
    ['template', 'app', 'net', 'proxy'] as const,
    notes.warnings,
  )
  const persistenceFiles = present(
    facts.persistenceMarkers,
    facts.sources.runQubes ?? '',
    ['full', 'rw-only', 'none'] as const,
    notes.warnings,
  )
  noteQubes(facts, qubes, typeFiles, markerFile, notes)
  const whonix = whonixFlavour(facts, notes)
  const db = qubesdbValues(facts, notes.warnings)
  const qubeClass = qubes ? qubesClass(db, typeFiles, markerFile, notes) : notQubes(notes.evidence.class, null)
  const providesNetwork = qubes
    ? networkRole(db, typeFiles, markerFile, notes.evidence)
    : notQubes(notes.evidence.providesNetwork, false)
  const persistence = qubes
    ? persistenceOf(db, persistenceFiles, markerFile, notes)
    : notQubes(notes.evidence.persistence, null)
  noteNameAndServices(facts, db, notes)
  if (qubes) noteFlavourMismatch(whonix, qubeClass, providesNetwork, notes.warnings)
  const { evidence, warnings } = notes
  return {
    schema: 1,
    qubes,
    whonix,
    class: qubeClass,
    providesNetwork,
    persistence,
    name: db.name,
    services: [...facts.services.names],
    evidence,
    warnings,
  }
}

function notQubes<T>(evidence: string[], answer: T): T {
  evidence.push('not a Qubes qube')
  return answer
}

function noteQubes(
  facts: RoleFacts,
  qubes: boolean,
  typeFiles: readonly TypeMarker[],
  markerFile: MarkerFile,
  notes: Notes,
): void {
  notes.evidence.qubes.push(
    qubes ? `qubesdb-read found at ${facts.qubesdbProgram}` : 'no qubesdb-read on the root or on PATH',
  )
  if (!qubes && typeFiles.length > 0)
    notes.warnings.push(
      `Qubes marker files exist (${typeFiles.map((k) => markerFile('type', k)).join(', ')}) but qubesdb-read is missing`,
    )
}

/** The Whonix flavour from the marker files, in templates too (anything there counts: role/facts.ts markerFact). */
function whonixFlavour(facts: RoleFacts, { evidence, warnings }: Notes): WhonixFlavour | null {
  const [gatewayMarker, workstationMarker] = [facts.whonixMarkers.gateway, facts.whonixMarkers.workstation]
  for (const [flavour, fact] of [
    ['gateway', gatewayMarker],
    ['workstation', workstationMarker],
  ] as const) {
    if (fact === 'unreadable')
      warnings.push(`the ${flavour} marker ${facts.sources[`${flavour}Marker`]} cannot be checked (permission denied)`)
  }
  if (gatewayMarker === 'present' && workstationMarker === 'present') {
    warnings.push('both the gateway and the workstation marker exist; Whonix flavour left undecided')
    evidence.whonix.push(`${facts.sources.gatewayMarker} exists`, `${facts.sources.workstationMarker} exists`)
    return null
  }
  if (gatewayMarker === 'present') {
    evidence.whonix.push(`${facts.sources.gatewayMarker} exists`)
    return 'gateway'
  }
  if (workstationMarker === 'present') {
    evidence.whonix.push(`${facts.sources.workstationMarker} exists`)
    return 'workstation'
  }
  evidence.whonix.push('neither Whonix marker file exists')
  return null
}

function qubesdbValues(facts: RoleFacts, warnings: string[]): QubesdbValues {
  const type = qubesdbValue(facts, '/type', warnings)
  const vmType = qubesdbValue(facts, '/qubes-vm-type', warnings)
  const persistence = qubesdbValue(facts, '/qubes-vm-persistence', warnings)
  const name = qubesdbValue(facts, '/name', warnings)
  return { type, vmType, persistence, name }
}

/** The class: qubesdb's /type for the classes only it tells, else /qubes-vm-type, else a lone marker file. */
function qubesClass(
  db: QubesdbValues,
  typeFiles: readonly TypeMarker[],
  markerFile: MarkerFile,
  notes: Notes,
): QubeClass | null {
  const { type, vmType } = db
  let qubeClass: QubeClass | null = null
  if (type !== null && CLASS_OF_TYPE[type]) {
    qubeClass = CLASS_OF_TYPE[type] ?? null
    notes.evidence.class.push(`qubesdb /type = ${type}`)
  } else if (vmType !== null) {
    qubeClass = CLASS_OF_VM_TYPE[vmType] ?? null
    notes.evidence.class.push(
      ...(type === null ? [] : [`qubesdb /type = ${type}`]),
      `qubesdb /qubes-vm-type = ${vmType}`,
    )
  } else if (typeFiles.length === 1) {
    qubeClass = typeFiles[0] ?? null
    notes.evidence.class.push(`${markerFile('type', typeFiles[0] ?? '')} exists (qubesdb gave no type)`)
  } else {
    notes.evidence.class.push('qubesdb gave no type and the marker files do not decide')
    notes.warnings.push('qube class unknown: qubesdb gave no type and the marker files do not decide')
  }
  noteClassMismatch(db, qubeClass, typeFiles, markerFile, notes.warnings)
  return qubeClass
}

function noteClassMismatch(
  db: QubesdbValues,
  qubeClass: QubeClass | null,
  typeFiles: readonly TypeMarker[],
  markerFile: MarkerFile,
  warnings: string[],
): void {
  const { type, vmType } = db
  if (type === 'TemplateVM' && vmType !== null && vmType !== 'TemplateVM')
    warnings.push(`qubesdb /type is TemplateVM but /qubes-vm-type is ${vmType}`)
  if (typeFiles.length > 1)
    warnings.push(`several qube type markers exist: ${typeFiles.map((k) => markerFile('type', k)).join(', ')}`)
  const isTemplate = qubeClass === 'template'
  if (typeFiles.includes('template') !== isTemplate && (vmType !== null || type !== null))
    warnings.push(
      isTemplate
        ? `qubesdb says template but ${markerFile('type', 'template')} is missing`
        : `${markerFile('type', 'template')} exists but qubesdb says ${type ?? vmType}`,
    )
  const networkFiles = typeFiles.filter((k) => k === 'net' || k === 'proxy')
  if (vmType !== null && networkFiles.length > 0 && !networkFiles.includes(CLASS_OF_VM_TYPE[vmType] as 'net' | 'proxy'))
    warnings.push(
      `qubesdb /qubes-vm-type is ${vmType} but ${networkFiles.map((k) => markerFile('type', k)).join(', ')} exists`,
    )
}

/** Whether the qube provides network: qubesdb's /qubes-vm-type, else a network marker file. */
function networkRole(
  db: QubesdbValues,
  typeFiles: readonly TypeMarker[],
  markerFile: MarkerFile,
  evidence: Evidence,
): boolean {
  if (db.vmType !== null) {
    evidence.providesNetwork.push(`qubesdb /qubes-vm-type = ${db.vmType}`)
    return db.vmType === 'ProxyVM' || db.vmType === 'NetVM'
  }
  const networkFile = typeFiles.find((k) => k === 'net' || k === 'proxy')
  evidence.providesNetwork.push(
    networkFile ? `${markerFile('type', networkFile)} exists` : 'no qubesdb /qubes-vm-type and no network marker file',
  )
  return networkFile !== undefined
}

/** Persistence: qubesdb's, checked against the marker files, else a lone marker file. */
function persistenceOf(
  db: QubesdbValues,
  persistenceFiles: readonly Persistence[],
  markerFile: MarkerFile,
  { evidence, warnings }: Notes,
): Persistence | null {
  if (db.persistence !== null) {
    const persistence = db.persistence as Persistence
    evidence.persistence.push(`qubesdb /qubes-vm-persistence = ${db.persistence}`)
    if (persistenceFiles.length > 0 && !persistenceFiles.includes(persistence))
      warnings.push(
        `qubesdb /qubes-vm-persistence is ${db.persistence} but ${persistenceFiles.map((k) => markerFile('persistence', k)).join(', ')} exists`,
      )
    return persistence
  }
  if (persistenceFiles.length === 1) {
    evidence.persistence.push(`${markerFile('persistence', persistenceFiles[0] ?? '')} exists`)
    return persistenceFiles[0] ?? null
  }
  evidence.persistence.push('qubesdb gave no persistence and the marker files do not decide')
  if (persistenceFiles.length > 1) warnings.push(`several persistence markers exist: ${persistenceFiles.join(', ')}`)
  return null
}

function noteNameAndServices(facts: RoleFacts, db: QubesdbValues, { evidence, warnings }: Notes): void {
  evidence.name.push(db.name === null ? 'qubesdb gave no /name' : `qubesdb /name = ${db.name}`)
  evidence.services.push(`entries of ${facts.sources.runQubesService}`)
  if (facts.services.error) warnings.push(facts.services.error)
  if (facts.services.rejected.length > 0)
    warnings.push(`ignored invalid Qubes service names: ${facts.services.rejected.join(', ')}`)
}

/** A Whonix marker that disagrees with the network role Qubes gave the qube. */
function noteFlavourMismatch(
  whonix: WhonixFlavour | null,
  qubeClass: QubeClass | null,
  providesNetwork: boolean,
  warnings: string[],
): void {
  if (whonix === 'gateway' && qubeClass !== 'template' && qubeClass !== null && !providesNetwork)
    warnings.push(
      'this qube carries the Whonix-Gateway marker but provides no network (is provides_network set in dom0?)',
    )
  if (whonix === 'workstation' && providesNetwork)
    warnings.push('this qube carries the Whonix-Workstation marker but provides network to other qubes')
}
