import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

// Small packages built on the spot with dpkg-deb, standing in for packages Debian does not
// have: the Qubes and Whonix packages owning the files the agent takes over (one of them
// diverting a path itself, as qubes-whonix does), and the Qubes packages the metapackages
// depend on.

/** A file's content (mode 0644), a file with its mode, or a symbolic link. */
export type LocalFile = string | { readonly content: string; readonly mode: number } | { readonly link: string }

export interface LocalDeb {
  readonly name: string
  readonly files?: Readonly<Record<string, LocalFile>>
  /** Maintainer scripts (postinst, prerm...), whole sh scripts. */
  readonly scripts?: Readonly<Record<string, string>>
}

export function buildLocalDeb(outDir: string, deb: LocalDeb): string {
  const work = mkdtempSync(join(tmpdir(), 'qwa-local-deb-'))
  try {
    const files = deb.files ?? {}
    for (const [path, file] of Object.entries(files)) {
      mkdirSync(dirname(join(work, path)), { recursive: true })
      if (typeof file === 'object' && 'link' in file) symlinkSync(file.link, join(work, path))
      else {
        writeFileSync(join(work, path), typeof file === 'string' ? file : file.content)
        chmodSync(join(work, path), typeof file === 'string' ? 0o644 : file.mode)
      }
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
    // As debhelper marks them: every regular file under /etc (a link is never a conffile).
    const conffiles = Object.entries(files).flatMap(([path, file]) =>
      path.startsWith('/etc/') && !(typeof file === 'object' && 'link' in file) ? [path] : [],
    )
    if (conffiles.length > 0)
      writeFileSync(join(work, 'DEBIAN/conffiles'), conffiles.map((path) => `${path}\n`).join(''))
    for (const [name, text] of Object.entries(deb.scripts ?? {})) {
      writeFileSync(join(work, 'DEBIAN', name), text)
      chmodSync(join(work, 'DEBIAN', name), 0o755)
    }
    const out = join(outDir, `${deb.name}_0~stand-in_all.deb`)
    execFileSync('dpkg-deb', ['--root-owner-group', '--build', work, out], { stdio: 'ignore' })
    return out
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}
