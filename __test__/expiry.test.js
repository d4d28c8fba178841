'use strict'

// What express-session expects of a store's expiry, to the millisecond, as
// its MemoryStore gives it: a session is served only while its cookie's
// expiry is in the future, and a touch shows in the cookie.expires the next
// get returns. On both item layouts; the whole-second `expires` stays what
// DynamoDB TTL, connect-dynamodb and connect-dynamodb-session read.

const express = require('express')
const request = require('supertest')
const { session, newStore, rawClient, rawItem, cookieSession } = require('./helpers')

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const raw = rawClient()
afterAll(() => raw.destroy())

/** A session saved now that ends `ms` from now. */
const endingIn = (ms, data = {}) => cookieSession(data, ms)

const LAYOUTS = [
  ['connect-dynamodb', {}, (sid) => `sess:${sid}`],
  ['connect-dynamodb-session', { format: 'connect-dynamodb-session' }, (sid) => sid],
]

describe.each(LAYOUTS)('expiry to the millisecond, %s layout', (layout, options, keyOf) => {
  const store = newStore({ ...options, skipUnchangedWrites: false })
  afterAll(() => store.close())

  test('a session is not served once its cookie has expired, however few milliseconds it had', async () => {
    await store.set('short', endingIn(5, { n: 1 }))
    await delay(20)
    expect(await store.get('short')).toBeNull()
    expect(await store.ids()).not.toContain('short')
    expect((await store.all()).map((s) => s.id)).not.toContain('short')
  })

  test('a session still within its milliseconds is served', async () => {
    await store.set('long', endingIn(60_000, { n: 2 }))
    expect(await store.get('long')).toMatchObject({ n: 2 })
  })

  test('a touch shows in the cookie.expires the next get returns, to the millisecond', async () => {
    const sess = endingIn(60_000, { n: 3 })
    await store.set('touched', sess)
    // Less than a second later than the save: the same whole second, most of the time.
    const moved = {
      ...sess,
      cookie: { ...sess.cookie, expires: new Date(Date.parse(sess.cookie.expires) + 123).toISOString() },
    }
    await store.touch('touched', moved)
    expect((await store.get('touched')).cookie.expires).toBe(moved.cookie.expires)
  })

  test('a touch does not bring back a session that has ended by the millisecond', async () => {
    const sess = endingIn(5, { n: 4 })
    await store.set('late', sess)
    await delay(20)
    expect(await store.touch('late', endingIn(60_000, { n: 4 }))).toBeNull()
    expect(await store.get('late')).toBeNull()
  })

  test('the item keeps a whole-second expiry for TTL, rounded up from the millisecond one', async () => {
    const sess = endingIn(60_000, { n: 5 })
    await store.set('ttl', sess)
    const item = await rawItem(raw, store.table, keyOf('ttl'))
    const at = Date.parse(sess.cookie.expires)
    const ttlAttribute = layout === 'connect-dynamodb' ? item.expires : item.ttl
    expect(Number(ttlAttribute.N)).toBe(Math.ceil(at / 1000))
    expect(Number((layout === 'connect-dynamodb' ? item.expiresMs : item.expires).N)).toBe(at)
  })
})

describe.each(LAYOUTS)('express-session on the store, %s layout', (layout, options, keyOf) => {
  const store = newStore(options)
  afterAll(() => store.close())
  const app = express()
  app.use(
    session({
      store,
      secret: 'expiry',
      resave: false,
      saveUninitialized: true,
      name: 'sid',
      cookie: { maxAge: 60_000 },
    }),
  )
  app.get('/short', (req, res) => {
    req.session.cookie.maxAge = 5
    req.session.n = 1
    res.json({ sid: req.sessionID })
  })
  app.get('/who', (req, res) => res.json({ sid: req.sessionID, n: req.session.n || null }))
  app.get('/touch', (req, res) => {
    req.session.touch()
    res.json({ sid: req.sessionID, expires: req.session.cookie.expires.toISOString() })
  })
  const cookieOf = (res) => res.headers['set-cookie'][0].split(';')[0]

  test('when the session expired in the store, a new session with a new sid is made, and the old one is gone', async () => {
    const first = await request(app).get('/short').expect(200)
    await delay(20)
    const again = await request(app).get('/who').set('Cookie', cookieOf(first)).expect(200)
    expect(again.body.n).toBeNull()
    expect(again.body.sid).not.toBe(first.body.sid)
    expect(await store.get(first.body.sid)).toBeNull()
    expect(await store.ids()).not.toContain(first.body.sid)
  })

  test('a request that only touches the session (resave: false) moves the cookie.expires get returns', async () => {
    const first = await request(app).get('/who').expect(200)
    const before = Date.parse((await store.get(first.body.sid)).cookie.expires)
    await delay(10)
    const touched = await request(app).get('/touch').set('Cookie', cookieOf(first)).expect(200)
    expect(touched.body.sid).toBe(first.body.sid)
    const after = Date.parse((await store.get(first.body.sid)).cookie.expires)
    // Moved by the touch, to the millisecond the store holds (not kept, not rounded to a second).
    const item = await rawItem(raw, store.table, keyOf(first.body.sid))
    expect(after).toBe(Number((layout === 'connect-dynamodb' ? item.expiresMs : item.expires).N))
    expect(after).toBeGreaterThanOrEqual(Date.parse(touched.body.expires))
    expect(after - before).toBeGreaterThanOrEqual(10)
  })
})

test('with touchAfter, a touch it skips writes nothing and leaves the stored expiry as it was (the documented exception)', async () => {
  const store = newStore({ touchAfter: 60_000 })
  const sess = endingIn(60_000, { n: 6 })
  await store.set('lazy', sess)
  await store.get('lazy')
  const moved = {
    ...sess,
    cookie: { ...sess.cookie, expires: new Date(Date.parse(sess.cookie.expires) + 500).toISOString() },
  }
  await store.touch('lazy', moved)
  expect(store.stats()).toMatchObject({ skippedWrites: 1, operations: { touch: 0 } })
  expect((await store.get('lazy')).cookie.expires).toBe(sess.cookie.expires)
  await store.close()
})
