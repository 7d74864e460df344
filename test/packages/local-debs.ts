import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

// Small packages built on the spot with dpkg-deb, standing in for packages Debian does not
// have: qubes-whonix (owning the files the agent diverts) and the Qubes packages the
// metapackages depend on.

export interface LocalDeb {
  readonly name: string
  readonly files?: Readonly<Record<string, string>>
}

export function buildLocalDeb(outDir: string, deb: LocalDeb): string {
  const work = mkdtempSync(join(tmpdir(), 'qwa-local-deb-'))
  try {
    const files = deb.files ?? {}
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(work, path)), { recursive: true })
      writeFileSync(join(work, path), content)
    }
    mkdirSync(join(work, 'DEBIAN'))
    writeFileSync(
      join(work, 'DEBIAN/control'),
      [
        `Package: ${deb.name}`,
        'Version: 0~stand-in',
        'Architecture: all',
        'Maintainer: qubes-whonix-agent tests <tests@invalid>',
        `Description: test stand-in for ${deb.name}`,
        ' Built by the qubes-whonix-agent install test; not the real package.',
        '',
      ].join('\n'),
    )
    const conffiles = Object.keys(files).filter((path) => path.startsWith('/etc/'))
    if (conffiles.length > 0) writeFileSync(join(work, 'DEBIAN/conffiles'), conffiles.map((path) => `${path}\n`).join(''))
    const out = join(outDir, `${deb.name}_0~stand-in_all.deb`)
    execFileSync('dpkg-deb', ['--root-owner-group', '--build', work, out], { stdio: 'ignore' })
    return out
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}
