import type { CallLimits } from '../../rpc/call'
import type { ServiceEntry, ServicesSection } from '../manifest/services'
import type { Role } from '../role'
import { servedHere } from './selectors'

export interface ServiceSpec {
  readonly name: string
  readonly entry: ServiceEntry
  readonly limits: CallLimits
}

/** A service's limits: the manifest's defaults, overridden key by key by its own. */
export function limitsOf(section: ServicesSection, entry: ServiceEntry): CallLimits {
  return { ...section.defaultLimits, ...entry.limits }
}

export function allServices(section: ServicesSection): ServiceSpec[] {
  return Object.entries(section.table)
    .map(([name, entry]) => ({ name, entry, limits: limitsOf(section, entry) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

/** The services this qube serves, by its role. */
export const servicesFor = (section: ServicesSection, role: Role): ServiceSpec[] =>
  allServices(section).filter((spec) => servedHere(spec.entry.servedBy, role))
