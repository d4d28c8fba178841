'use strict'

// The smoke suite every platform's binary must pass, run with `node --test`
// under that platform's own Node (npm run test:arm64 runs it under emulation
// against a DynamoDB Local on the host). It checks that the addon loaded is
// this platform's, and the paths every app takes: the four session calls, an
// express-session round trip, an error reaching its callback, and the
// compression and encryption codecs.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const path = require('node:path')
const session = require('express-session')
const express = require('express')
const request = require('supertest')

const root = path.join(__dirname, '..', '..')
const DynamoDBStore = require(root)(session)

const endpoint = process.env.DYNAMODB_TEST_ENDPOINT
const connection = { endpoint, region: 'us-east-1', accessKeyId: 'smoke', secretAccessKey: 'smoke' }
const table = `smoke-${process.arch}-${process.pid}-${Date.now().toString(36)}`
const stores = []
const newStore = (options = {}) => {
  const store = new DynamoDBStore({ table, AWSConfigJSON: connection, ...options })
  stores.push(store)
  return store
}
const cookieSession = (data) => ({
  cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000).toISOString() },
  ...data,
})
after(() => Promise.all(stores.map((store) => store.close())))

test(`the addon loaded is this platform's (${process.platform}-${process.arch})`, () => {
  assert.ok(endpoint, 'DYNAMODB_TEST_ENDPOINT names the DynamoDB Local to use')
  const loaded = Object.keys(require.cache).filter((file) => file.endsWith('.node'))
  assert.equal(loaded.length, 1)
  assert.match(
    path.basename(loaded[0]),
    new RegExp(`\\.${process.platform}-${process.arch}(-gnu|-musl|-msvc)?\\.node$`),
  )
})

test('set, get, touch and destroy', async () => {
  const store = newStore()
  await store.set('s1', cookieSession({ n: 1, text: 'héllo ✓' }))
  assert.deepEqual((await store.get('s1')).text, 'héllo ✓')
  const touched = await store.touch('s1', cookieSession({ n: 1 }))
  assert.match(touched.expires, /^\d+$/)
  await store.destroy('s1')
  assert.equal(await store.get('s1'), null)
})

test('an express-session round trip keeps the session across requests', async () => {
  const app = express()
  app.use(session({ store: newStore(), secret: 'smoke', resave: false, saveUninitialized: false }))
  app.get('/count', (req, res) => {
    req.session.count = (req.session.count || 0) + 1
    res.json({ count: req.session.count })
  })
  const agent = request.agent(app)
  assert.deepEqual((await agent.get('/count')).body, { count: 1 })
  assert.deepEqual((await agent.get('/count')).body, { count: 2 })
})

test('a bad call reaches its callback with a code, on a later tick', async () => {
  const store = newStore()
  let returned = false
  const err = await new Promise((resolve) => {
    store.get('', (e) => resolve({ e, later: returned }))
    returned = true
  })
  assert.equal(err.later, true)
  assert.equal(err.e.code, 'ERR_INVALID_ARGUMENT')
  const unreachable = new DynamoDBStore({
    table,
    maxRetries: 0,
    circuitBreaker: false,
    AWSConfigJSON: { ...connection, endpoint: 'http://127.0.0.1:9' },
  })
  stores.push(unreachable)
  const refused = await new Promise((resolve) => unreachable.get('x', resolve))
  assert.equal(refused.code, 'ERR_NETWORK')
})

test('compressed and encrypted sessions round trip', async () => {
  const big = cookieSession({ cart: Array.from({ length: 200 }, (_, i) => ({ sku: `SKU-${i}`, qty: i % 7 })) })
  const compressed = newStore({ compress: true })
  await compressed.set('c1', big)
  assert.deepEqual((await compressed.get('c1')).cart, big.cart)
  const key = crypto.randomBytes(32).toString('base64')
  const sealed = newStore({ encryption: { keys: { k1: key }, primaryKeyId: 'k1' }, compress: true })
  await sealed.set('e1', big)
  assert.deepEqual((await sealed.get('e1')).cart, big.cart)
  const plain = newStore()
  await assert.rejects(plain.get('e1'), { code: 'ERR_DECRYPT' }, 'a store without the key cannot read a sealed session')
})
