// The process the crash-safety test kills: rewrites every file with writeFileAtomic.
import { join } from 'node:path'
import { writeFileAtomic } from '../../../agent/fs/atomic-write'
import { contentFor, fileName } from './crash-content'

const [dir = '', count = '0', label = ''] = process.argv.slice(2)
process.stdout.write('ready\n')
for (let index = 0; index < Number(count); index++)
  await writeFileAtomic(join(dir, fileName(index)), contentFor(index, label))
process.stdout.write('done\n')
