'use strict'

// connect-dynamodb-rs/koa with koa-session, over real HTTP, against DynamoDB
// Local: sessions across requests, logout, expiry, touches that cost no full
// write, errors that reach Koa with their code, races under versioning, and
// one table shared with an Express app.

const Koa = require('koa')
const { createSession: koaSession } = require('koa-session')
const request = require('supertest')
const { DynamoDBKoaStore, expressCookie } = require('../koa')
const { session, connection, endpoint, uniqueTable, rawClient, rawItem } = require('./helpers')
const { dynamoDBFront } = require('./fixtures/dynamodb-front')

const raw = rawClient()
afterAll(() => raw.destroy())

/** A Koa app with koa-session on a DynamoDB store; routes count, peek, save, log in and out. */
function koaApp(storeOptions = {}, sessionOptions = {}) {
  const store = new DynamoDBKoaStore({ table: uniqueTable('koa'), AWSConfigJSON: connection(), ...storeOptions })
  const app = new Koa()
  app.keys = ['koa test key']
  app.silent = true
  app.use(async (ctx, next) => {
    try {
      await next()
    } catch (err) {
      ctx.status = err.code === 'ERR_SESSION_CONFLICT' ? 409 : 500
      ctx.body = { code: err.code }
    }
  })
  app.use(koaSession({ store, maxAge: 60_000, ...sessionOptions }, app))
  app.use(async (ctx) => {
    if (ctx.path === '/count') ctx.session.count = (ctx.session.count || 0) + 1
    if (ctx.path === '/save') {
      // Changed, then saved by hand: koa-session calls it a forced save, not a change.
      ctx.session.count = (ctx.session.count || 0) + 10
      await ctx.session.save()
    }
    if (ctx.path === '/login') ctx.session.user = 'ann'
    if (ctx.path === '/remember') ctx.session.maxAge = 30 * 86_400_000
    if (ctx.path === '/reserved') ctx.session.cookie = 'chocolate'
    if (ctx.path === '/logout') ctx.session = null
    ctx.body = ctx.session ? { count: ctx.session.count ?? null, user: ctx.session.user ?? null } : {}
  })
  return { app, store, server: app.callback() }
}

const sidOf = (agent) => {
  const cookie = agent.jar.getCookie('koa.sess', { path: '/', domain: '127.0.0.1', secure: false, script: false })
  return cookie && cookie.value
}

test('a session is kept across requests; its item has the TTL attribute of its maxAge', async () => {
  const { server, store } = koaApp()
  const agent = request.agent(server)
  for (const count of [1, 2, 3]) expect((await agent.get('/count').expect(200)).body.count).toBe(count)
  const sid = sidOf(agent)
  const item = await rawItem(raw, store.store.table, `sess:${sid}`)
  expect(JSON.parse(item.sess.S)).toMatchObject({ count: 3, cookie: { originalMaxAge: 60_000 } })
  const ttl = Number(item.expires.N)
  expect(Math.abs(ttl - (Date.now() + 60_000) / 1000)).toBeLessThan(5)
  await store.close()
})

test('logging out destroys the item; the old cookie reads nothing', async () => {
  const { server, store } = koaApp()
  const agent = request.agent(server)
  expect((await agent.get('/login')).body.user).toBe('ann')
  const sid = sidOf(agent)
  const cookies = agent.jar.getCookies({ path: '/', domain: '127.0.0.1', secure: false, script: false }).toValueString()
  await agent.get('/logout').expect(200)
  expect((await rawItem(raw, store.store.table, `sess:${sid}`)).sess).toBeUndefined()
  expect(await store.get(sid)).toBeNull()
  expect((await request(server).get('/count').set('Cookie', cookies)).body).toEqual({ count: 1, user: null })
  await store.close()
})

test("a short maxAge ends the session to the millisecond; the item's expiry is right", async () => {
  const { server, store } = koaApp({}, { maxAge: 400 })
  // The cookies by hand: a jar may already call a 400 ms cookie expired (its Expires has whole seconds).
  const first = await request(server).get('/count').expect(200)
  const cookies = first.headers['set-cookie'].map((line) => line.split(';')[0])
  const sid = cookies.find((cookie) => cookie.startsWith('koa.sess=')).slice('koa.sess='.length)
  const stored = await store.get(sid)
  expect(stored._expire).toBeGreaterThan(Date.now())
  expect(stored._expire).toBeLessThanOrEqual(Date.now() + 400)
  const item = await rawItem(raw, store.store.table, `sess:${sid}`)
  expect(Number(item.expires.N)).toBe(Math.ceil(stored._expire / 1000))
  await new Promise((resolve) => setTimeout(resolve, 450))
  expect(await store.get(sid)).toBeNull()
  expect((await request(server).get('/count').set('Cookie', cookies.join('; '))).body.count).toBe(1)
  await store.close()
})

test('rolling, an unchanged session is a touch, not a full write; touchAfter skips the touches it covers', async () => {
  for (const touchAfter of [0, 60_000]) {
    const { server, store } = koaApp({ touchAfter }, { rolling: true })
    const agent = request.agent(server)
    await agent.get('/count').expect(200)
    const before = store.store.stats()
    for (let i = 0; i < 3; i++) expect((await agent.get('/peek')).body.count).toBe(1)
    const after = store.store.stats()
    expect({
      touchAfter,
      sets: after.operations.set - before.operations.set,
      touches: after.operations.touch - before.operations.touch,
      skipped: after.skippedWrites - before.skippedWrites,
    }).toEqual({ touchAfter, sets: 0, touches: touchAfter ? 0 : 3, skipped: touchAfter ? 3 : 0 })
    await store.close()
  }
})

test('a touch moves the expiry the next read sees, to the millisecond', async () => {
  const { server, store } = koaApp({}, { rolling: true })
  const agent = request.agent(server)
  await agent.get('/count').expect(200)
  const sid = sidOf(agent)
  const first = (await store.get(sid))._expire
  await new Promise((resolve) => setTimeout(resolve, 15))
  await agent.get('/peek').expect(200)
  expect((await store.get(sid))._expire).toBeGreaterThanOrEqual(first + 15)
  await store.close()
})

test('a new maxAge alone is written, though koa-session calls the session unchanged', async () => {
  const { server, store } = koaApp({}, { rolling: true })
  const agent = request.agent(server)
  await agent.get('/count').expect(200)
  await agent.get('/remember').expect(200)
  const stored = await store.get(sidOf(agent))
  expect(stored._maxAge).toBe(30 * 86_400_000)
  expect(stored._expire).toBeGreaterThan(Date.now() + 29 * 86_400_000)
  await store.close()
})

test('a session field named "cookie" is refused with a code, not dropped', async () => {
  const { server, store } = koaApp()
  const res = await request(server).get('/reserved')
  expect(res.status).toBe(500)
  expect(res.body).toEqual({ code: 'ERR_INVALID_ARGUMENT' })
  await store.close()
})

test('a session changed and saved by hand is written whole, though koa-session calls it unchanged', async () => {
  const { server, store } = koaApp()
  const agent = request.agent(server)
  await agent.get('/count').expect(200)
  expect((await agent.get('/save')).body.count).toBe(11)
  expect((await agent.get('/peek')).body.count).toBe(11)
  await store.close()
})

test("a DynamoDB error reaches Koa's error handling with its code", async () => {
  const front = await dynamoDBFront(endpoint(), (operation) =>
    operation === 'PutItem' ? { status: 400, type: 'ValidationException', message: 'refused' } : null,
  )
  const { server, store } = koaApp({ AWSConfigJSON: { ...connection(), endpoint: front.endpoint } })
  await store.store.initialize()
  const res = await request(server).get('/count')
  expect(res.status).toBe(500)
  expect(res.body).toEqual({ code: 'ValidationException' })
  await store.close()
  await front.close()
})

test('50 requests at once on one session, versioning on: every lost update is reported', async () => {
  const { server, store } = koaApp({ versioning: true })
  const agent = request.agent(server)
  await agent.get('/count').expect(200)
  const cookies = agent.jar.getCookies({ path: '/', domain: '127.0.0.1', secure: false, script: false }).toValueString()
  const http = require('node:http').createServer(server)
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${http.address().port}/count`
  const statuses = await Promise.all(
    Array.from({ length: 50 }, () => fetch(url, { headers: { cookie: cookies } }).then((res) => res.status)),
  )
  http.close()
  const saved = statuses.filter((status) => status === 200).length
  const refused = statuses.filter((status) => status === 409).length
  expect(saved + refused).toBe(50)
  expect(saved).toBeGreaterThan(0)
  // Each save that went through added one to what it read, and no two read the same count.
  expect((await agent.get('/peek')).body.count).toBe(1 + saved)
  await store.close()
})

test('an Express app and a Koa app share one table and, through expressCookie, one session', async () => {
  const express = require('express')
  const table = uniqueTable('shared')
  const secret = 'shared secret'
  const expressStore = new (require('..')(session))({ table, AWSConfigJSON: connection() })
  const web = express()
  const cookie = { sameSite: 'strict', domain: 'example.test' }
  web.use(session({ store: expressStore, secret, resave: false, saveUninitialized: false, cookie }))
  web.get('/count', (req, res) => {
    req.session.count = (req.session.count || 0) + 1
    res.json({ count: req.session.count })
  })
  const { server, store } = koaApp(
    { store: expressStore },
    { externalKey: expressCookie({ secret, cookie: { maxAge: 60_000 } }) },
  )
  const first = await request(web).get('/count')
  const sent = first.headers['set-cookie'][0].split(';')[0]
  expect(first.body.count).toBe(1)
  const koa = await request(server).get('/count').set('Cookie', sent)
  expect(koa.body.count).toBe(2)
  // The Koa app's save kept the cookie as express-session wrote it, flags and all: Express
  // reads the session back and sends the same cookie.
  const sid = decodeURIComponent(sent.split('=')[1]).slice(2).split('.')[0]
  expect((await expressStore.get(sid)).cookie).toMatchObject({ sameSite: 'strict', domain: 'example.test' })
  const again = await request(web).get('/count').set('Cookie', sent)
  expect(again.body.count).toBe(3)
  // A forged cookie is no session.
  const forged = sent.replace(/\.[^.]+$/, '.forged')
  expect((await request(server).get('/count').set('Cookie', forged)).body.count).toBe(1)
  // Logging out in Koa, in an app without app.keys: the item and express-session's cookie go.
  const keyless = koaApp({ store: expressStore }, { externalKey: expressCookie({ secret }), signed: undefined })
  keyless.app.keys = undefined
  const out = await request(keyless.server).get('/logout').set('Cookie', sent)
  expect(out.status).toBe(200)
  expect(out.headers['set-cookie'].join('\n')).toMatch(/connect\.sid=;.*expires=Thu, 01 Jan 1970/)
  expect(await expressStore.get(sid)).toBeNull()
  await store.close()
})

test('expressCookie signs as express-session does', () => {
  const signature = require('cookie-signature')
  const cookie = expressCookie({ secret: ['new', 'old'] })
  const jar = new Map()
  const ctx = {
    cookies: {
      get: (name) => jar.get(name),
      set: (name, value) => jar.set(name, value),
    },
  }
  cookie.set(ctx, 'abc')
  expect(decodeURIComponent(jar.get('connect.sid'))).toBe(`s:${signature.sign('abc', 'new')}`)
  jar.set('connect.sid', encodeURIComponent(`s:${signature.sign('xyz', 'old')}`))
  expect(cookie.get(ctx)).toBe('xyz')
  jar.set('connect.sid', encodeURIComponent(`s:${signature.sign('xyz', 'other')}`))
  expect(cookie.get(ctx)).toBeUndefined()
  expect(() => expressCookie({})).toThrow(/secret/)
})

test('examples/koa.js: visits are counted in the session; an unchanged session within touchAfter writes nothing', async () => {
  const { createApp } = require('../examples/koa')
  const store = new DynamoDBKoaStore({
    table: uniqueTable('koa-example'),
    AWSConfigJSON: connection(),
    touchAfter: 60_000,
  })
  const agent = request.agent(createApp(store).callback())
  expect((await agent.post('/visit')).body.visits).toBe(1)
  expect((await agent.post('/visit')).body.visits).toBe(2)
  expect((await agent.get('/')).body.visits).toBe(2)
  const stats = (await agent.get('/stats')).body
  expect({ sets: stats.operations.set, skipped: stats.skippedWrites }).toEqual({ sets: 2, skipped: 1 })
  await store.close()
})
