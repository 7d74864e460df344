import type { Manifest } from '../manifest/schema'
import template from './error-page.html?raw'

/** tinyproxy's error page for the updates proxy; it carries the proof line the templates' check looks for. */
export function errorPage(manifest: Manifest): string {
  return template.replace('@PROOF_LINE@', () => manifest.updatesProxy.check.proofLine)
}
