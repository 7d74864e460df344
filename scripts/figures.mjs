// Size figures of the shipped and test code: files over 200 lines, functions over 40 lines.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import ts from 'typescript'

const files = execFileSync('git', ['ls-files', '*.ts'], { encoding: 'utf8' }).split('\n').filter(Boolean)
const lines = (text) => text.split('\n').length - (text.endsWith('\n') ? 1 : 0)
const longFiles = []
const longFunctions = []
for (const path of files) {
  const text = readFileSync(path, 'utf8')
  if (lines(text) > 200) longFiles.push(`${path}:${lines(text)}`)
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true)
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart()).line
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line
      if (end - start + 1 > 40) longFunctions.push(`${path}:${start + 1}:${end - start + 1}`)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
}
const verbose = process.argv.includes('--list')
const readme = lines(readFileSync('README.md', 'utf8'))
const shipped = (entry) => /^(agent|rpc|packages-meta)\//.test(entry)
console.log(
  JSON.stringify({
    filesOver200: longFiles.length,
    shippedFilesOver200: longFiles.filter(shipped).length,
    functionsOver40: longFunctions.length,
    shippedFunctionsOver40: longFunctions.filter(shipped).length,
    readmeLines: readme,
  }),
)
if (verbose) console.log([...longFiles, '--', ...longFunctions].join('\n'))
