'use strict'

// Every call the store answers on the engine is declared once, in the core
// (`operations!` in src/lib.rs): the store's methods are made from that table
// (lib/operations.js). These tests hold the JavaScript side and the
// TypeScript declarations to it.

const fs = require('node:fs')
const path = require('node:path')
const { NativeStore } = require('../lib/binding').loadBinding()
const { unknownKinds, HANDWRITTEN, ARGUMENTS } = require('../lib/operations')
const { DynamoDBStore, connection } = require('./helpers')
const { ADMIN } = require('..')

const table = NativeStore.operationTable()

test('the table names each call once, with a method on the store or the command line', () => {
  const methods = table.map((op) => op.method)
  expect(new Set(methods).size).toBe(methods.length)
  const store = new DynamoDBStore({ AWSConfigJSON: connection(), initialized: true })
  const admin = store[ADMIN]()
  for (const op of table) {
    const where = op.admin ? admin : DynamoDBStore.prototype
    expect({ op: op.method, method: typeof where[op.method] }).toEqual({ op: op.method, method: 'function' })
    expect({ op: op.method, native: typeof NativeStore.prototype[op.native] }).toEqual({
      op: op.method,
      native: 'function',
    })
  }
  return store.close()
})

test('every kind of argument and answer in the table is known to the shim, and only set and touch are written by hand', () => {
  expect(unknownKinds(table)).toEqual([])
  expect([...HANDWRITTEN].sort()).toEqual(['set', 'touch'])
  // What a hand-written method passes is still the table's: its arguments' kinds.
  expect(table.find((op) => op.method === 'set').args).toEqual([
    'sid',
    'session',
    'ms?',
    'ms?',
    'ms?',
    'version?',
    'device?',
  ])
  expect(table.find((op) => op.method === 'touch').args).toEqual(['sid', 'ms?', 'ms?', 'ms?'])
  expect(Object.keys(ARGUMENTS)).toEqual(expect.arrayContaining(['sid', 'user', 'token', 'json']))
})

test("index.d.ts declares each of the store's calls", () => {
  const types = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8')
  for (const op of table.filter((op) => !op.admin)) {
    expect({ op: op.method, declared: new RegExp(`\\n\\s+${op.method}\\(`).test(types) }).toEqual({
      op: op.method,
      declared: true,
    })
  }
})

test('a callback may stand in the place of optional arguments, and the checks run before anything is sent', async () => {
  const store = new DynamoDBStore({ AWSConfigJSON: connection(), initialized: true })
  const unlocked = await new Promise((resolve) =>
    store.unlock('never-locked', (err, released) => resolve([err, released])),
  )
  expect(unlocked).toEqual([null, false])
  const codes = await Promise.all([
    store.get(42).catch((err) => err.code),
    store.lock('s', undefined).catch((err) => err.code),
    store.holdsLock('s', 'not a token!').catch((err) => err.code),
    store.listSessionsForUser({}).catch((err) => err.code),
    store.destroySessionForUser('u', '\uD800').catch((err) => err.code),
  ])
  expect(codes).toEqual([
    'ERR_INVALID_ARGUMENT',
    'ERR_INVALID_ARGUMENT',
    'ERR_INVALID_ARGUMENT',
    'ERR_INVALID_USER',
    'ERR_INVALID_ARGUMENT',
  ])
  expect(store.stats().operations.get).toBe(0)
  await store.close()
})
