import { textFile, type FileGenerator } from '../generated/file'
import { protectedPaths } from './rule'

/** The list Qubes reads to leave Whonix's files alone: every protected path, one per line. */
export const protectedFilesList: FileGenerator = (manifest) => {
  const section = manifest.protectedFiles
  const paths = protectedPaths(Object.keys(section.files), section.variantSuffixes).map(({ path }) => path)
  const content = [
    '## qubes-whonix-agent: Qubes must not rewrite these files (host name, time zone, resolver).',
    '## One absolute path per line, whole-line match; see /etc/qubes/protected-files.d/ in the Qubes docs.',
    ...paths,
    '',
  ].join('\n')
  return [
    textFile(section.listFile, content, 'Qubes protected-files list: keeps Whonix host name, time zone and resolver'),
  ]
}
