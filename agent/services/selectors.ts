import type { Role } from '../role/detect'

/**
 * Which qubes serve a service, in the manifest's `servedBy` lists. A service is served
 * when any of its selectors matches this qube's role.
 *   any: every machine the daemon runs on; qubes: every Qubes qube;
 *   whonix: every Whonix qube (templates included);
 *   gateway / workstation: a Whonix qube of that flavour that is not a template;
 *   template-gateway / template-workstation: a Whonix template of that flavour;
 *   template, app, proxy, net, disposable, standalone: a Qubes qube of that class.
 */
export const ROLE_SELECTORS = [
  'any',
  'qubes',
  'whonix',
  'gateway',
  'workstation',
  'template',
  'template-gateway',
  'template-workstation',
  'app',
  'proxy',
  'net',
  'disposable',
  'standalone',
] as const

export type RoleSelector = (typeof ROLE_SELECTORS)[number]

export function selectorMatches(selector: RoleSelector, role: Role): boolean {
  const template = role.class === 'template'
  switch (selector) {
    case 'any':
      return true
    case 'qubes':
      return role.qubes
    case 'whonix':
      return role.whonix !== null
    case 'gateway':
    case 'workstation':
      return role.whonix === selector && !template
    case 'template-gateway':
      return template && role.whonix === 'gateway'
    case 'template-workstation':
      return template && role.whonix === 'workstation'
    default:
      return role.qubes && role.class === selector
  }
}

export const servedHere = (selectors: readonly RoleSelector[], role: Role): boolean =>
  selectors.some((selector) => selectorMatches(selector, role))
