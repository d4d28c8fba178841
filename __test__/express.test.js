'use strict'

const express = require('express')
const request = require('supertest')
const { session, newStore, rawClient, rawItem } = require('./helpers')

const raw = rawClient()
const store = newStore()

const app = express()
app.use(
  session({
    store,
    secret: 'test secret',
    resave: false,
    saveUninitialized: false,
    name: 'sid',
    cookie: { maxAge: 600_000 },
  }),
)
app.post('/login', (req, res, next) =>
  req.session.regenerate((err) => {
    if (err) return next(err)
    req.session.user = req.query.user
    res.json({ sid: req.sessionID })
  }),
)
app.get('/whoami', (req, res) => res.json({ user: req.session.user || null, sid: req.sessionID }))
app.post('/logout', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.json({ ok: true }))))

const sidOf = (res) =>
  decodeURIComponent(res.headers['set-cookie'][0].split(';')[0].split('=')[1]).slice(2).split('.')[0]
const stored = (sid) => rawItem(raw, store.table, `sess:${sid}`)

afterAll(async () => {
  await store.close()
  raw.destroy()
})

test('an anonymous visit writes nothing (saveUninitialized: false)', async () => {
  const res = await request(app).get('/whoami').expect(200)
  expect(res.body.user).toBeNull()
  expect(res.headers['set-cookie']).toBeUndefined()
  await store.initialize()
  expect(await stored(res.body.sid)).toBeUndefined()
})

test('login, cookie reuse with touch, regenerate, logout', async () => {
  const login = await request(app).post('/login?user=ann').expect(200)
  const cookie = login.headers['set-cookie'][0].split(';')[0]
  const sid = sidOf(login)
  expect(sid).toBe(login.body.sid)
  const first = await stored(sid)
  expect(JSON.parse(first.sess.S).user).toBe('ann')

  // An unmodified session is touched (resave: false): expires moves forward.
  await new Promise((r) => setTimeout(r, 1100))
  const me = await request(app).get('/whoami').set('Cookie', cookie).expect(200)
  expect(me.body).toEqual({ user: 'ann', sid })
  expect(Number((await stored(sid)).expires.N)).toBeGreaterThan(Number(first.expires.N))

  // Logging in again regenerates: a new id, the old session is gone.
  const again = await request(app).post('/login?user=bob').set('Cookie', cookie).expect(200)
  const newSid = sidOf(again)
  expect(newSid).not.toBe(sid)
  expect((await stored(sid)).sess).toBeUndefined()
  const newCookie = again.headers['set-cookie'][0].split(';')[0]
  expect((await request(app).get('/whoami').set('Cookie', cookie)).body.user).toBeNull()
  expect((await request(app).get('/whoami').set('Cookie', newCookie)).body.user).toBe('bob')

  // Logout destroys the session; the old cookie no longer works.
  await request(app).post('/logout').set('Cookie', newCookie).expect(200)
  expect((await stored(newSid)).sess).toBeUndefined()
  expect((await request(app).get('/whoami').set('Cookie', newCookie)).body.user).toBeNull()
})
