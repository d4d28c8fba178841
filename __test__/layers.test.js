'use strict'

// The core's modules sit in layers that only look down (scripts/layers.js
// declares them); these tests hold the source to it and show the check
// catches what it is for.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { LAYERS, importGraph, check, expandTree, picture } = require('../scripts/layers')

const src = path.join(__dirname, '..', 'src')

/** A source tree of the given files (relative path -> text), in a fresh directory. */
function tree(files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layers-'))
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
    fs.writeFileSync(path.join(dir, file), text)
  }
  return dir
}

test("the core's imports all look down, with no circle and every module placed", () => {
  expect(check(importGraph(src))).toEqual([])
})

test('a use tree names every path in it', () => {
  expect(expandTree('crate::a::{b, c::{d, e}, self}').sort()).toEqual([
    'crate::a',
    'crate::a::b',
    'crate::a::c::d',
    'crate::a::c::e',
  ])
})

test('imports are read from use trees, inline paths, super and self, and unit tests are left out', () => {
  const dir = tree({
    'lib.rs': 'mod a;\nmod b;\nmod c;\n',
    'a/mod.rs': 'mod inner;\nuse self::inner::Thing;\n',
    'a/inner.rs': 'use super::super::b::{self, Other};\nfn f() { crate::c::go() }\n',
    'b.rs': '// use crate::c; (a comment)\n#[cfg(test)]\nmod tests {\n    use crate::a::inner;\n}\n',
    'c.rs': '',
  })
  const graph = importGraph(dir)
  expect([...graph.get('a')]).toEqual(['a::inner'])
  expect([...graph.get('a::inner')].sort()).toEqual(['b', 'c'])
  expect([...graph.get('b')]).toEqual([])
})

test('a circle, an import from a layer below, the crate root and an unplaced module are each found', () => {
  const layers = [
    { name: 'low', what: '', modules: ['a', 'b'] },
    { name: 'high', what: '', modules: ['c', 'crate'] },
  ]
  const graph = (edges) => new Map(Object.entries(edges).map(([module, targets]) => [module, new Set(targets)]))
  expect(check(graph({ a: [], b: ['a'], c: ['a', 'b'], crate: ['c'] }), layers)).toEqual([])
  expect(check(graph({ a: ['b'], b: ['a'], c: [], crate: [] }), layers)).toEqual([
    'these modules import each other in a circle: a, b',
  ])
  expect(check(graph({ a: ['c'], b: [], c: [], crate: [] }), layers)).toEqual([
    'a (low) imports c, a layer above (high)',
  ])
  expect(check(graph({ a: [], b: ['crate'], c: [], crate: [] }), layers)).toEqual(['b imports the crate root'])
  expect(check(graph({ a: [], b: [], c: [], d: [], crate: [] }), layers)).toEqual([
    'd is in no layer (add it to scripts/layers.js)',
  ])
})

test('the picture shows every layer, top first', () => {
  const lines = picture().split('\n')
  expect(lines[0]).toMatch(/surface │ answer, host, crate/)
  expect(lines.filter((line) => /^\s*[a-z ]+ │ \S/.test(line) && !line.includes('│   ')).length).toBe(LAYERS.length)
})

test('docs/architecture.md shows the layers as they are declared', () => {
  const doc = fs.readFileSync(path.join(__dirname, '..', 'docs', 'architecture.md'), 'utf8')
  const shown = doc.slice(doc.indexOf('<!-- layers:start -->'), doc.indexOf('<!-- layers:end -->'))
  expect(shown).toContain(picture())
})
