'use strict'

// The suite every JavaScript runtime the store supports must pass: Node.js,
// Bun and Deno (`npm run test:runtimes` runs it under each, against DynamoDB
// Local and an HTTPS front with a private CA). It needs nothing but the
// runtime: a small harness of its own, fetch, and node:http.
//
// Environment: DYNAMODB_TEST_ENDPOINT (DynamoDB Local), HTTPS_TEST_ENDPOINT (the
// same behind HTTPS whose CA only NODE_EXTRA_CA_CERTS names), EXPECT_TRANSPORT
// (the carrier `auto` must pick here).

const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const path = require('node:path')
const session = require('express-session')
const express = require('express')

const root = path.join(__dirname, '..', '..')
const DynamoDBStore = require(root)(session)
const { runtime } = require(path.join(root, 'lib', 'runtime'))

const credentials = { region: 'us-east-1', accessKeyId: 'runtimes', secretAccessKey: 'runtimes' }
const connection = { endpoint: process.env.DYNAMODB_TEST_ENDPOINT, ...credentials }
const label = `${runtime()}-${process.pid}-${Date.now().toString(36)}`
let tables = 0
const stores = []
const newStore = (options = {}) => {
  const store = new DynamoDBStore({ table: `rt-${label}-${tables++}`, AWSConfigJSON: connection, ...options })
  stores.push(store)
  return store
}
const cookieSession = (data) => ({
  cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000).toISOString() },
  ...data,
})

const { check, runChecks } = require('./harness.cjs')

check('the carrier is chosen for this runtime, before anything native touches the loop', () => {
  const store = newStore()
  assert.equal(store.transport, process.env.EXPECT_TRANSPORT)
  assert.throws(() => newStore({ transport: 'carrier pigeon' }), { code: 'ERR_INVALID_OPTION' })
  if (runtime() !== 'node')
    assert.throws(() => newStore({ transport: 'native' }), { code: 'ERR_INVALID_OPTION', message: /needs Node\.js/ })
})

check('set, get, touch and destroy', async () => {
  const store = newStore()
  await store.set('s1', cookieSession({ n: 1, text: 'héllo ✓' }))
  assert.equal((await store.get('s1')).text, 'héllo ✓')
  assert.match((await store.touch('s1', cookieSession({ n: 1 }))).expires, /^\d+$/)
  await store.destroy('s1')
  assert.equal(await store.get('s1'), null)
})

check('100 calls at once each get their own session', async () => {
  const store = newStore()
  await Promise.all(Array.from({ length: 100 }, (_, i) => store.set(`m${i}`, cookieSession({ i }))))
  const found = await Promise.all(Array.from({ length: 100 }, (_, i) => store.get(`m${i}`)))
  assert.deepEqual(
    found.map((sess) => sess.i),
    Array.from({ length: 100 }, (_, i) => i),
  )
})

check('a 200 KB session', async () => {
  const store = newStore()
  const big = cookieSession({ blob: 'x'.repeat(200_000) })
  await store.set('big', big)
  assert.equal((await store.get('big')).blob.length, 200_000)
})

check('an express-session app over real HTTP keeps its session across requests', async () => {
  const app = express()
  app.use(session({ store: newStore(), secret: 'runtimes', resave: false, saveUninitialized: false }))
  app.get('/count', (req, res) => {
    req.session.count = (req.session.count || 0) + 1
    res.json({ count: req.session.count })
  })
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  try {
    const url = `http://127.0.0.1:${server.address().port}/count`
    const first = await fetch(url)
    const cookie = first.headers.get('set-cookie').split(';')[0]
    assert.deepEqual(await first.json(), { count: 1 })
    const second = await fetch(url, { headers: { cookie } })
    assert.deepEqual(await second.json(), { count: 2 })
  } finally {
    await new Promise((resolve) => server.close(resolve))
  }
})

check('all, length and clear', async () => {
  const store = newStore()
  await store.set('a', cookieSession({ n: 1 }))
  await store.set('b', cookieSession({ n: 2 }))
  assert.equal(await store.length(), 2)
  assert.deepEqual((await store.all()).map((s) => s.id).sort(), ['a', 'b'])
  assert.equal(await store.clear(), 2)
  assert.equal(await store.length(), 0)
})

check('versioning refuses a save over a change made since it was read', async () => {
  const store = newStore({ versioning: true })
  await store.set('v', cookieSession({ n: 0 }))
  const first = await store.get('v')
  const second = await store.get('v')
  await store.set('v', { ...first, n: 1 })
  await assert.rejects(store.set('v', { ...second, n: 2 }), { code: 'ERR_SESSION_CONFLICT' })
})

check('a lock is held by one request at a time', async () => {
  const store = newStore()
  await store.set('l', cookieSession({ refresh_token: 'r1' }))
  const token = await store.lock('l', 'r1')
  await assert.rejects(store.lock('l', 'r1'), { code: 'ERR_SESSION_LOCKED' })
  assert.equal(await store.unlock('l', token), true)
})

check('encrypted sessions round trip, and a store without the key cannot read them', async () => {
  const key = crypto.randomBytes(32).toString('base64')
  const sealed = newStore({ encryption: { keys: { k1: key }, primaryKeyId: 'k1' } })
  await sealed.set('e', cookieSession({ secret: 'mine' }))
  assert.equal((await sealed.get('e')).secret, 'mine')
  const plain = new DynamoDBStore({ table: sealed.table, AWSConfigJSON: connection })
  stores.push(plain)
  await assert.rejects(plain.get('e'), { code: 'ERR_DECRYPT' })
})

check("the user index: a user's other sessions end", async () => {
  const store = newStore({ userPath: 'user' })
  await store.set('u1', cookieSession({ user: 'ann' }))
  await store.set('u2', cookieSession({ user: 'ann' }))
  assert.equal(await store.destroyOtherSessionsForUser('ann', 'u2'), 1)
  assert.equal(await store.get('u1'), null)
  assert.equal((await store.get('u2')).user, 'ann')
})

check('an error from DynamoDB reaches the callback with its code', async () => {
  const store = new DynamoDBStore({ table: `rt-missing-${label}`, initialized: true, AWSConfigJSON: connection })
  stores.push(store)
  const err = await new Promise((resolve) => store.get('x', resolve))
  assert.equal(err.code, 'ResourceNotFoundException')
})

check('HTTPS through a private CA named by NODE_EXTRA_CA_CERTS', async () => {
  const store = newStore({ AWSConfigJSON: { ...connection, endpoint: process.env.HTTPS_TEST_ENDPOINT } })
  await store.set('tls', cookieSession({ n: 7 }))
  assert.equal((await store.get('tls')).n, 7)
})

runChecks(runtime(), () => Promise.all(stores.map((store) => store.close().catch(() => {}))))
