import { resolve } from 'node:path'
import { CodedError } from '../../rpc/errors'
import { ensureDirectory } from '../fs/entries'
import { writeGeneratedFiles } from '../generated/write'
import { printJson } from '../io'
import { defineCommand, requireAction } from './command'

export const filesCommand = defineCommand({
  command: 'files [action] [path]',
  describe:
    'The files the package installs, generated from the manifest: list them, print one, or write them all under a directory',
  builder: (yargs) =>
    yargs.positional('action', { choices: ['list', 'show', 'write'] as const }).positional('path', {
      type: 'string',
      describe: 'show: the installed path of the file; write: the output directory',
    }),
  async run(args, io, features) {
    const action = requireAction('files', args.action, ['list', 'show PATH', 'write DIR'])
    const files = await features.generatedFiles(await features.loadManifest(args.config))
    if (action === 'list') {
      if (args.json)
        printJson(
          io,
          files.map(({ path, kind, purpose }) => ({ path, kind, purpose })),
        )
      else
        for (const file of files)
          io.out(`${file.path}${file.kind === 'symlink' ? ` -> ${file.target}` : ''}  (${file.purpose})`)
      return 0
    }
    if (args.path === undefined) throw new CodedError('USAGE', `files ${action} needs a path`, { exitCode: 2 })
    if (action === 'show') {
      const file = files.find((candidate) => candidate.path === args.path)
      if (!file) throw new CodedError('NO_SUCH_GENERATED_FILE', `no generated file ${args.path} (see: files list)`)
      io.out(file.kind === 'symlink' ? `symlink to ${file.target}` : file.content)
      return 0
    }
    // One clear line for an output that is no directory (/dev/null) or cannot be one (/proc/x).
    ensureDirectory(resolve(args.path), 0o755)
    await writeGeneratedFiles(resolve(args.path), files)
    if (!args.json) io.out(`wrote ${files.length} files under ${resolve(args.path)}`)
    return 0
  },
})
