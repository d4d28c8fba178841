#!/usr/bin/env node
'use strict'

// The core's modules in layers that only look down: the order is declared
// here once, and checked against what each module imports (its `use`
// declarations and every `crate::`/`super::`/`self::` path in its code,
// unit tests left out). A module may import its own layer or one below it,
// never one above; no modules may import each other in a circle; none may
// import the crate root (lib.rs is the N-API surface, at the top); and every
// module must be placed. `node scripts/layers.js` checks (exit 1 on a
// finding); `--picture` prints the layers as docs/architecture.md shows them.

const fs = require('node:fs')
const path = require('node:path')

/** Bottom first. Each layer: a name, what it holds, its modules. */
const LAYERS = [
  {
    name: 'facts',
    what: 'names, numbers and errors every layer shares; no I/O',
    modules: ['error', 'schema', 'item', 'stats', 'engine', 'expiry', 'sigv4', 'trace', 'options::table'],
  },
  {
    name: 'formats',
    what: 'pure functions from bytes to values: item layouts, DynamoDB JSON, HTTP/1.1',
    modules: ['layout', 'wire_json', 'net::lost', 'net::http'],
  },
  { name: 'options', what: 'every option, parsed and validated once', modules: ['options'] },
  {
    name: 'rules',
    what: 'what the store writes and why: payloads, items, the memo of recent calls, credentials, the breaker',
    modules: ['payload', 'codec', 'recent', 'credentials', 'logger', 'breaker'],
  },
  {
    name: 'network',
    what: 'the pool without I/O, the two carriers, the wire (SigV4, retries) and the SDK client for table setup',
    modules: [
      'net::pool',
      'net::tls',
      'net::uv',
      'net::stream',
      'net',
      'net::node_carrier',
      'net::uv_carrier',
      'transport',
      'wire',
      'client',
      'table',
    ],
  },
  {
    name: 'store parts',
    what: 'what the concerns share: the connection, the key of a sid, batches, versions',
    modules: ['store::devices', 'store::batch', 'store::versions', 'store::shared'],
  },
  {
    name: 'store concerns',
    what: 'one view per concern, each with its own state',
    modules: ['store::lifetime', 'store::locks', 'store::scans', 'store::migrate', 'store::users'],
  },
  {
    name: 'store calls',
    what: 'the views that combine concerns: sessions, rotation, the command line',
    modules: ['store::sessions', 'store::rotate', 'store::admin', 'store'],
  },
  { name: 'surface', what: "the engine's host and the N-API methods", modules: ['answer', 'host', 'crate'] },
]

/** Every module under `src` (`a::b` for src/a/b.rs and src/a/b/mod.rs; `crate` for lib.rs) -> its file. */
function modulesOf(src) {
  const modules = new Map()
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(file)
      else if (entry.name.endsWith('.rs')) {
        const parts = path.relative(src, file).slice(0, -3).split(path.sep)
        if (['mod', 'lib'].includes(parts.at(-1))) parts.pop()
        modules.set(parts.join('::') || 'crate', file)
      }
    }
  }
  walk(src)
  return modules
}

/** The code of a file without comments and without its unit tests. */
function codeOf(text) {
  const tests = text.search(/#\[cfg\(test\)\]\s*mod tests\b/)
  const code = tests === -1 ? text : text.slice(0, tests)
  return code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
}

/** Every path a `use` tree names: `a::{b, c::{d}}` -> a::b, a::c::d. */
function expandTree(tree) {
  tree = tree.replace(/\s+/g, '')
  const open = tree.indexOf('{')
  if (open === -1) return [tree.replace(/::self$/, '').replace(/\bas\w+$/, '')]
  const head = tree.slice(0, open)
  const inner = tree.slice(open + 1, tree.lastIndexOf('}'))
  const parts = []
  let depth = 0
  let start = 0
  for (let i = 0; i <= inner.length; i++) {
    const c = inner[i]
    if (c === '{') depth++
    else if (c === '}') depth--
    else if ((c === ',' || c === undefined) && depth === 0) {
      if (i > start) parts.push(inner.slice(start, i))
      start = i + 1
    }
  }
  return parts.flatMap((part) => expandTree(head + part))
}

/** The paths a module's code names: its `use` trees, and paths written inline. */
function pathsIn(code) {
  const paths = []
  for (const [, tree] of code.matchAll(/\buse\s+((?:crate|super|self)::[^;]*);/g)) paths.push(...expandTree(tree))
  const inline = code.replace(/\buse\s+[^;]*;/g, '')
  for (const [found] of inline.matchAll(/\b(?:crate|super|self)(?:::\w+)+/g)) paths.push(found)
  return paths
}

/** The module a path starting `crate::`, `super::` or `self::` in module `from` lands in. */
function resolve(pathText, from, isDirModule, modules) {
  const segments = pathText.split('::')
  let base = from === 'crate' ? [] : from.split('::')
  const head = segments.shift()
  if (head === 'crate') base = []
  else if (head === 'super') base = isDirModule ? base.slice(0, -1) : base.slice(0, -1)
  else if (head === 'self' && !isDirModule) base = base.slice(0, -1).concat(base.slice(-1))
  while (segments[0] === 'super') {
    segments.shift()
    base = base.slice(0, -1)
  }
  // The longest run of segments that names a module.
  let target = base.length ? base.join('::') : 'crate'
  const walked = [...base]
  for (const segment of segments) {
    walked.push(segment)
    if (modules.has(walked.join('::'))) target = walked.join('::')
    else break
  }
  return target
}

/** Module -> the set of modules it imports. */
function importGraph(src) {
  const modules = modulesOf(src)
  const graph = new Map()
  for (const [name, file] of modules) {
    const isDirModule = /(?:^|[\\/])(mod|lib)\.rs$/.test(file)
    const code = codeOf(fs.readFileSync(file, 'utf8'))
    const targets = new Set()
    for (const found of pathsIn(code)) {
      const target = resolve(found, name, isDirModule, modules)
      if (target !== name) targets.add(target)
    }
    graph.set(name, targets)
  }
  return graph
}

/** The circles of a graph: its strongly connected components of more than one module. */
function circles(graph) {
  const index = new Map()
  const low = new Map()
  const stack = []
  const onStack = new Set()
  const found = []
  let next = 0
  const visit = (v) => {
    index.set(v, next)
    low.set(v, next++)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v), low.get(w)))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)))
    }
    if (low.get(v) === index.get(v)) {
      const component = []
      let w
      do {
        w = stack.pop()
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1) found.push(component.sort())
    }
  }
  for (const v of graph.keys()) if (!index.has(v)) visit(v)
  return found
}

/** What is wrong with a graph against the layers: a list of sentences (empty: nothing). */
function check(graph, layers = LAYERS) {
  const layerOf = new Map()
  const problems = []
  layers.forEach((layer, at) => {
    for (const module of layer.modules) {
      if (layerOf.has(module)) problems.push(`${module} is placed in two layers`)
      layerOf.set(module, at)
    }
  })
  for (const module of graph.keys())
    if (!layerOf.has(module)) problems.push(`${module} is in no layer (add it to scripts/layers.js)`)
  for (const module of layerOf.keys())
    if (!graph.has(module)) problems.push(`${module} is placed in a layer but is not a module`)
  for (const [module, targets] of graph) {
    for (const target of targets) {
      if (target === 'crate') problems.push(`${module} imports the crate root`)
      else if (layerOf.has(module) && layerOf.has(target) && layerOf.get(target) > layerOf.get(module))
        problems.push(
          `${module} (${layers[layerOf.get(module)].name}) imports ${target}, a layer above (${layers[layerOf.get(target)].name})`,
        )
    }
  }
  for (const circle of circles(graph))
    problems.push(`these modules import each other in a circle: ${circle.join(', ')}`)
  return problems
}

/** The layers, top first, as a picture in text. */
function picture(layers = LAYERS) {
  const width = Math.max(...layers.map((layer) => layer.name.length))
  return [...layers]
    .reverse()
    .map(
      (layer) => `${layer.name.padStart(width)} │ ${layer.modules.join(', ')}\n${' '.repeat(width)} │   ${layer.what}`,
    )
    .join('\n')
}

module.exports = { LAYERS, importGraph, check, circles, picture, expandTree }

if (require.main === module) {
  if (process.argv.includes('--picture')) {
    console.log(picture())
  } else {
    const problems = check(importGraph(path.join(__dirname, '..', 'src')))
    for (const problem of problems) console.error(`layers: ${problem}`)
    if (problems.length) process.exit(1)
    console.log(`layers: ${LAYERS.length} layers, every import looks down, no circle`)
  }
}
