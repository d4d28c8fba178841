'use strict'

// Account security: the devices a user is signed in on (listSessionsForUser
// with when and where each session began, destroySessionForUser), an
// absolute lifetime (absoluteTimeout), and rotate(): a new session id that
// keeps the data, in one transaction, with a tombstone behind.

const { PutItemCommand } = require('@aws-sdk/client-dynamodb')
const express = require('express')
const request = require('supertest')
const { newStore, session, cookieSession, rawClient, rawItem, connectDynamoDB } = require('./helpers')
const { createApp, STORE_OPTIONS } = require('../examples/devices')

const { rotateSession } = connectDynamoDB
const codeOf = (promise) =>
  promise.then(
    () => 'resolved',
    (err) => err.code,
  )
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

describe('"Your devices"', () => {
  const store = newStore(STORE_OPTIONS)
  const app = createApp(store)
  afterAll(() => store.close())

  const login = (agent, username) =>
    agent
      .post('/login')
      .send({ username, password: `${username}-password` })
      .expect(200)

  test('each browser is listed with its user agent, address and times; one can sign another out', async () => {
    const laptop = request.agent(app)
    const phone = request.agent(app)
    const started = Date.now()
    await login(laptop.set('User-Agent', 'Laptop/1.0'), 'ann')
    await login(phone.set('User-Agent', 'Phone/2.0'), 'ann')
    const devices = (await laptop.get('/devices.json').set('User-Agent', 'Laptop/1.0').expect(200)).body
    expect(devices).toHaveLength(2)
    const [here, there] = devices
    expect(here).toMatchObject({
      current: true,
      browser: 'Laptop/1.0',
      address: expect.stringMatching(/127\.0\.0\.1|::1/),
    })
    expect(there).toMatchObject({ current: false, browser: 'Phone/2.0' })
    for (const device of devices) {
      expect(Date.parse(device.signedInAt)).toBeGreaterThanOrEqual(started - 1000)
      expect(Date.parse(device.lastSeenAt)).toBeGreaterThanOrEqual(Date.parse(device.signedInAt))
    }
    // The page never shows a session id, only a handle.
    const html = (await laptop.get('/devices').set('User-Agent', 'Laptop/1.0').expect(200)).text
    expect(html).toContain('Phone/2.0')
    expect(html).toContain(`/devices/${there.handle}/sign-out`)
    const sids = (await store.listSessionsForUser('u-ann')).map((s) => s.sid)
    expect(sids.length).toBeGreaterThanOrEqual(2)
    for (const sid of sids) expect(html).not.toContain(sid)

    await laptop.post(`/devices/${there.handle}/sign-out`).set('Accept', 'application/json').expect(200)
    await phone.get('/me').expect(401)
    await laptop.get('/me').expect(200)
    expect((await laptop.get('/devices.json').expect(200)).body).toHaveLength(1)
  })

  test("a user cannot end another user's session; a missing one is ERR_SESSION_NOT_FOUND; nothing is written", async () => {
    const ann = request.agent(app)
    const bob = request.agent(app)
    await login(ann, 'ann')
    await login(bob, 'bob')
    const [bobs] = await store.listSessionsForUser('u-bob')
    expect(await codeOf(store.destroySessionForUser('u-ann', bobs.sid))).toBe('ERR_SESSION_NOT_FOUND')
    expect(await codeOf(store.destroySessionForUser('u-bob', 'no-such-sid'))).toBe('ERR_SESSION_NOT_FOUND')
    await bob.get('/me').expect(200)
    expect(await codeOf(store.destroySessionForUser('', bobs.sid))).toBe('ERR_INVALID_USER')
    await store.destroySessionForUser('u-bob', bobs.sid)
    await bob.get('/me').expect(401)
  })
})

test('destroySessionForUser ends only a live session: one that ended a moment ago, within its last second, is ERR_SESSION_NOT_FOUND', async () => {
  const store = newStore({ userPath: 'user' })
  const raw = rawClient()
  try {
    await store.initialize()
    while (Date.now() % 1000 < 200 || Date.now() % 1000 > 900) await sleep(10)
    const end = Date.now() - 50
    await raw.send(
      new PutItemCommand({
        TableName: store.table,
        Item: {
          id: { S: 'sess:just-ended' },
          expires: { N: String(Math.ceil(end / 1000)) },
          expiresMs: { N: String(end) },
          type: { S: 'connect-session' },
          user: { S: 'erin' },
          sess: { S: JSON.stringify(cookieSession({ user: 'erin' })) },
        },
      }),
    )
    expect(await store.get('just-ended')).toBeNull()
    expect(await codeOf(store.destroySessionForUser('erin', 'just-ended'))).toBe('ERR_SESSION_NOT_FOUND')
    expect((await rawItem(raw, store.table, 'sess:just-ended')).destroyed).toBeUndefined()
  } finally {
    await store.close()
    raw.destroy()
  }
})

describe('device fields', () => {
  test('the first save records them; later saves and touches keep them and move lastSeenAt', async () => {
    const store = newStore({ userPath: 'user', touchAfter: 0 })
    const req = { headers: { 'user-agent': 'First/1' }, ip: '10.1.2.3' }
    const sess = cookieSession({ user: 'dana', n: 1 })
    Object.defineProperty(sess, 'req', { value: req })
    await store.set('d1', sess)
    const [first] = await store.listSessionsForUser('dana')
    expect(first.device).toEqual({ userAgent: 'First/1', ip: '10.1.2.3' })
    await sleep(20)
    req.headers['user-agent'] = 'Second/2'
    sess.n = 2
    await store.set('d1', sess)
    await store.touch('d1', sess)
    const [later] = await store.listSessionsForUser('dana')
    expect(later.device).toEqual({ userAgent: 'First/1', ip: '10.1.2.3' })
    expect(later.createdAt).toEqual(first.createdAt)
    expect(later.lastSeenAt.getTime()).toBeGreaterThan(first.lastSeenAt.getTime())
    // Never inside the session itself.
    expect(await store.get('d1')).not.toHaveProperty('device')
    await store.close()
  })

  test('sessionMetadata adds fields, also without a request (other frameworks)', async () => {
    const seen = []
    const store = newStore({
      userPath: 'user',
      sessionMetadata: (sess, req) => {
        seen.push(req === undefined)
        return { deviceName: `${sess.user}'s tablet`, build: 7 }
      },
    })
    await store.set('m1', cookieSession({ user: 'eve' }))
    const [listed] = await store.listSessionsForUser('eve')
    expect(listed.device).toEqual({ deviceName: "eve's tablet", build: '7' })
    expect(seen).toEqual([true])
    const bad = newStore({ userPath: 'user', sessionMetadata: () => 'not an object' })
    expect(await codeOf(bad.set('m2', cookieSession({ user: 'eve' })))).toBe('ERR_INVALID_OPTION')
    expect(() => newStore({ sessionMetadata: 'nope' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }))
    await Promise.all([store.close(), bad.close()])
  })

  test('hostile headers are cut to 1 KB and stored safely, not refused', async () => {
    const store = newStore({ userPath: 'user' })
    const client = rawClient()
    const hostile = `${'\u0000\u0007\u00ff'.repeat(10)}${'é'.repeat(50_000)}\ud800`
    const sess = cookieSession({ user: 'mallory' })
    Object.defineProperty(sess, 'req', { value: { headers: { 'user-agent': hostile }, ip: '::1' } })
    await store.set('h1', sess)
    const item = await rawItem(client, store.table, `${store.prefix}h1`)
    const device = item.device.M
    const bytes = Object.entries(device).reduce(
      (n, [name, value]) => n + Buffer.byteLength(name) + Buffer.byteLength(value.S),
      0,
    )
    expect(bytes).toBeLessThanOrEqual(1024)
    expect(device.userAgent.S.startsWith('\u0000\u0007\u00ff')).toBe(true)
    expect((await store.get('h1')).user).toBe('mallory')
    client.destroy()
    await store.close()
  })
})

describe('absoluteTimeout', () => {
  test('a session ends that long after its first save however often it is touched, and TTL sees the cap', async () => {
    const store = newStore({ absoluteTimeout: 2500, touchAfter: 0 })
    const client = rawClient()
    const sess = cookieSession({ n: 1 }, 3_600_000)
    await store.set('a1', sess)
    const created = Number((await rawItem(client, store.table, `${store.prefix}a1`)).createdAt.N)
    const capped = Math.ceil((created + 2500) / 1000)
    expect(Number((await rawItem(client, store.table, `${store.prefix}a1`)).expires.N)).toBe(capped)
    await sleep(800)
    await store.touch('a1', sess)
    sess.n = 2
    await store.set('a1', sess)
    const item = await rawItem(client, store.table, `${store.prefix}a1`)
    expect(Number(item.expires.N)).toBe(capped)
    expect(Number(item.createdAt.N)).toBe(created)
    expect((await store.get('a1')).n).toBe(2)
    await sleep(created + 2600 - Date.now())
    expect(await store.get('a1')).toBeNull()
    expect(await store.touch('a1', sess)).toBeNull()
    client.destroy()
    await store.close()
  }, 15_000)

  test('a new session id (express-session regenerate) starts a new lifetime; a wrong type is ERR_INVALID_OPTION', async () => {
    const store = newStore({ absoluteTimeout: 60_000 })
    const client = rawClient()
    await store.set('old', cookieSession({ n: 1 }))
    await sleep(50)
    await store.destroy('old')
    await store.set('new', cookieSession({ n: 1 }))
    const created = async (sid) => (await rawItem(client, store.table, `${store.prefix}${sid}`)).createdAt
    expect(await created('old')).toBeUndefined()
    expect(Number((await created('new')).N)).toBeGreaterThan(Date.now() - 1000)
    client.destroy()
    await store.close()
    for (const absoluteTimeout of ['12h', -1, 0, true, {}]) {
      expect(() => newStore({ absoluteTimeout })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('absoluteTimeout') }),
      )
    }
  })
})

describe('rotate', () => {
  test('the new id holds the same data, user, device and createdAt; the old id is gone and cannot be written back', async () => {
    const key = require('node:crypto').randomBytes(32).toString('base64')
    const store = newStore({ userPath: 'user', encryption: { keys: { k: key }, primaryKeyId: 'k' }, compress: true })
    const client = rawClient()
    const sess = cookieSession({ user: 'gus', cart: ['a', 'b'] })
    Object.defineProperty(sess, 'req', { value: { headers: { 'user-agent': 'Rot/1' }, ip: '10.0.0.9' } })
    await store.set('r-old', sess)
    const before = await rawItem(client, store.table, `${store.prefix}r-old`)
    await store.rotate('r-old', 'r-new')
    expect(await store.get('r-old')).toBeNull()
    expect(await store.get('r-new')).toMatchObject({ user: 'gus', cart: ['a', 'b'] })
    const after = await rawItem(client, store.table, `${store.prefix}r-new`)
    expect(after.createdAt).toEqual(before.createdAt)
    expect(after.device).toEqual(before.device)
    expect(after.user).toEqual({ S: 'gus' })
    expect((await store.listSessionsForUser('gus')).map((s) => s.sid)).toEqual(['r-new'])
    // A request still holding the old id saves: nothing is written, the session stays gone.
    await store.set('r-old', sess)
    expect(await store.get('r-old')).toBeNull()
    client.destroy()
    await store.close()
  })

  test('to an existing sid, from a missing sid, or to the same sid: a clear error and nothing written', async () => {
    const store = newStore()
    await store.set('x1', cookieSession({ n: 1 }))
    await store.set('x2', cookieSession({ n: 2 }))
    expect(await codeOf(store.rotate('x1', 'x2'))).toBe('ERR_SESSION_EXISTS')
    expect((await store.get('x1')).n).toBe(1)
    expect((await store.get('x2')).n).toBe(2)
    expect(await codeOf(store.rotate('missing', 'x3'))).toBe('ERR_SESSION_NOT_FOUND')
    expect(await store.get('x3')).toBeNull()
    expect(await codeOf(store.rotate('x1', 'x1'))).toBe('ERR_INVALID_ARGUMENT')
    expect(await codeOf(store.rotate('x1', ''))).toBe('ERR_INVALID_ARGUMENT')
    expect((await store.get('x1')).n).toBe(1)
    await store.close()
  })

  test('express-session: rotateSession on login keeps the cart and changes the cookie; a request on the old id cannot revive it', async () => {
    const store = newStore()
    const app = express()
    app.use(session({ store, secret: 's', resave: false, saveUninitialized: false }))
    let release
    const gate = new Promise((resolve) => (release = resolve))
    app.post('/cart/:item', (req, res) => {
      req.session.cart = [...(req.session.cart || []), req.params.item]
      res.json(req.session.cart)
    })
    app.post('/login', async (req, res, next) => {
      try {
        await rotateSession(req)
        req.session.user = 'ann'
        res.json({ cart: req.session.cart })
      } catch (err) {
        next(err)
      }
    })
    // A slow request that loaded the session before the login and saves after it.
    app.post('/slow', async (req, res) => {
      req.session.slow = true
      await gate
      res.json({ ok: true })
    })
    app.get('/me', (req, res) => res.json({ user: req.session.user || null, cart: req.session.cart || [] }))

    const browser = request.agent(app)
    const first = await browser.post('/cart/apple').expect(200)
    const oldCookie = first.headers['set-cookie'][0].split(';')[0]
    const slow = request(app)
      .post('/slow')
      .set('Cookie', oldCookie)
      .then((res) => res)
    await sleep(100)
    const login = await browser.post('/login').expect(200)
    expect(login.body).toEqual({ cart: ['apple'] })
    const newCookie = login.headers['set-cookie'][0].split(';')[0]
    expect(newCookie).not.toBe(oldCookie)
    expect((await browser.get('/me').expect(200)).body).toEqual({ user: 'ann', cart: ['apple'] })
    release()
    await slow
    // The old cookie finds no session: neither the login nor the slow request's save is behind it.
    expect((await request(app).get('/me').set('Cookie', oldCookie).expect(200)).body).toEqual({ user: null, cart: [] })
    expect((await browser.get('/me').expect(200)).body).toEqual({ user: 'ann', cart: ['apple'] })
    await store.close()
  })
})
