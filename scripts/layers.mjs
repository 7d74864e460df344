// Counts the cycles among the folders of agent/ (and rpc/), following runtime imports only
// (`import type` and imports of types alone vanish from the bundle). Prints one JSON line;
// exits 1 when a cycle exists, so it can guard the layering.
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'

const ROOTS = ['agent', 'rpc']

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

/** Runtime module specifiers of one file: static imports and re-exports not marked type-only, and import() calls. */
function runtimeImports(path) {
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022, true)
  const found = []
  const visit = (node) => {
    if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly) {
      const bindings = node.importClause?.namedBindings
      const onlyTypes =
        node.importClause !== undefined &&
        node.importClause.name === undefined &&
        bindings !== undefined &&
        ts.isNamedImports(bindings) &&
        bindings.elements.length > 0 &&
        bindings.elements.every((element) => element.isTypeOnly)
      if (!onlyTypes) found.push(node.moduleSpecifier.text)
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && !node.isTypeOnly) {
      found.push(node.moduleSpecifier.text)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [argument] = node.arguments
      if (argument && ts.isStringLiteral(argument)) found.push(argument.text)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found.filter((specifier) => specifier.startsWith('.'))
}

/** agent/x/y.ts -> agent/x; rpc/z.ts -> rpc; a file at the top of agent/ (cli.ts, run.ts...) is a node of its own. */
function folderOf(path) {
  const parts = relative('.', path).replace(/\.ts$/, '').split('/')
  return parts[0] === 'rpc' ? 'rpc' : parts.slice(0, 2).join('/')
}

const edges = new Map()
for (const file of ROOTS.flatMap(sourceFiles)) {
  const from = folderOf(file)
  if (!edges.has(from)) edges.set(from, new Set())
  for (const specifier of runtimeImports(file)) {
    const target = folderOf(relative('.', resolve(dirname(file), specifier)))
    if (target !== from && ROOTS.includes(target.split('/')[0]) && !target.endsWith('.sh?raw'))
      edges.get(from).add(target)
  }
}

// Tarjan's strongly connected components: every component of more than one folder is a cycle.
function components(graph) {
  let index = 0
  const stack = []
  const state = new Map()
  const found = []
  const connect = (node) => {
    state.set(node, { index, low: index, onStack: true })
    index++
    stack.push(node)
    for (const next of graph.get(node) ?? []) {
      if (!state.has(next)) {
        connect(next)
        state.get(node).low = Math.min(state.get(node).low, state.get(next).low)
      } else if (state.get(next).onStack) state.get(node).low = Math.min(state.get(node).low, state.get(next).index)
    }
    if (state.get(node).low === state.get(node).index) {
      const component = []
      let member
      do {
        member = stack.pop()
        state.get(member).onStack = false
        component.push(member)
      } while (member !== node)
      found.push(component.sort())
    }
  }
  for (const node of graph.keys()) if (!state.has(node)) connect(node)
  return found
}

if (process.argv.includes('--edges'))
  for (const [from, to] of edges) console.log(`${from} -> ${[...to].sort().join(' ')}`)
const cycles = components(edges).filter((component) => component.length > 1)
const folders = [...edges.keys()].length
console.log(
  JSON.stringify({
    folders,
    cycles: cycles.length,
    foldersInCycles: cycles.reduce((n, c) => n + c.length, 0),
    components: cycles,
  }),
)
process.exitCode = cycles.length === 0 ? 0 : 1
