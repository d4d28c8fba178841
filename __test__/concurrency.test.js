'use strict'

// Races between requests of one browser: optimistic versioning refuses a save
// over a session changed since it was read, and the lease lock lets exactly
// one request rotate a one-time refresh token.
const express = require('express')
const request = require('supertest')
const { session, newStore, rawClient, rawItem, putRaw, cookieSession, viaCallback } = require('./helpers')
const { VERSION_PROPERTY } = require('..')

const raw = rawClient()
afterAll(() => raw.destroy())

const codeOf = (promise) =>
  promise.then(
    () => 'resolved',
    (err) => err.code,
  )

describe('versioning', () => {
  test('each save writes the next version; get hands it to the session', async () => {
    const store = newStore({ versioning: true })
    await store.set('v1', cookieSession({ n: 1 }))
    const item = await rawItem(raw, store.table, 'sess:v1')
    expect(item.version).toEqual({ N: '1' })
    expect(JSON.parse(item.sess.S)).not.toHaveProperty(VERSION_PROPERTY)
    const read = await store.get('v1')
    expect(read[VERSION_PROPERTY]).toBe(1)
    read.n = 2
    await store.set('v1', read)
    expect((await rawItem(raw, store.table, 'sess:v1')).version).toEqual({ N: '2' })
    expect(await store.get('v1')).toMatchObject({ n: 2, [VERSION_PROPERTY]: 2 })
    await store.close()
  })

  test('a save over a session changed since it was read fails with ERR_SESSION_CONFLICT; the first save stays', async () => {
    const store = newStore({ versioning: true })
    await store.set('v2', cookieSession({ n: 0 }))
    const [a, b] = [await store.get('v2'), await store.get('v2')]
    a.n = 'a'
    b.n = 'b'
    await store.set('v2', a)
    const err = await store.set('v2', b).catch((e) => e)
    expect(err.code).toBe('ERR_SESSION_CONFLICT')
    expect(err.message).toMatch(/read version 1, stored version 2/)
    expect(await store.get('v2')).toMatchObject({ n: 'a' })
    await store.close()
  })

  test('of many concurrent saves from one read, exactly one lands', async () => {
    const store = newStore({ versioning: true })
    await store.set('v3', cookieSession({ n: 0 }))
    const copies = await Promise.all(Array.from({ length: 8 }, () => store.get('v3')))
    const outcomes = await Promise.all(
      copies.map((copy, i) => codeOf(store.set('v3', Object.assign(copy, { n: i + 1 })))),
    )
    expect(outcomes.filter((o) => o === 'resolved')).toHaveLength(1)
    expect(outcomes.filter((o) => o === 'ERR_SESSION_CONFLICT')).toHaveLength(7)
    const winner = outcomes.indexOf('resolved') + 1
    expect(await store.get('v3')).toMatchObject({ n: winner, [VERSION_PROPERTY]: 2 })
    await store.close()
  })

  test('a session object saved twice in one request conflicts with nothing', async () => {
    const store = newStore({ versioning: true })
    await store.set('v4', cookieSession({ n: 0 }))
    const sess = await store.get('v4')
    sess.n = 1
    await store.set('v4', sess)
    sess.n = 2
    await store.set('v4', sess)
    expect(await store.get('v4')).toMatchObject({ n: 2, [VERSION_PROPERTY]: 3 })
    await store.close()
  })

  test('a stale copy saved again, even unchanged, conflicts: it would undo the newer save', async () => {
    const store = newStore({ versioning: true })
    await store.set('v11', cookieSession({ n: 0 }))
    const [a, b] = [await store.get('v11'), await store.get('v11')]
    await store.set('v11', Object.assign(a, { n: 1 }))
    expect(await codeOf(store.set('v11', b))).toBe('ERR_SESSION_CONFLICT')
    expect(await store.get('v11')).toMatchObject({ n: 1, [VERSION_PROPERTY]: 2 })
    await store.close()
  })

  test('a blind save (nothing read) creates, but never overwrites a versioned session', async () => {
    const store = newStore({ versioning: true })
    await store.set('v5', cookieSession({ n: 1 }))
    expect(await codeOf(store.set('v5', cookieSession({ n: 'blind' })))).toBe('ERR_SESSION_CONFLICT')
    expect(await store.get('v5')).toMatchObject({ n: 1 })
    await store.close()
  })

  test('sessions written before versioning was on are read as version 0 and upgraded', async () => {
    const plain = newStore()
    await plain.set('v6', cookieSession({ n: 1 }))
    const store = newStore({ table: plain.table, versioning: true })
    const read = await store.get('v6')
    expect(read[VERSION_PROPERTY]).toBe(0)
    const stale = await store.get('v6')
    read.n = 2
    await store.set('v6', read)
    expect((await rawItem(raw, store.table, 'sess:v6')).version).toEqual({ N: '1' })
    expect(await codeOf(store.set('v6', stale))).toBe('ERR_SESSION_CONFLICT')
    await Promise.all([plain.close(), store.close()])
  })

  test('a save in flight during a destroy is still dropped, not reported as a conflict', async () => {
    const store = newStore({ versioning: true })
    await store.set('v7', cookieSession({ n: 1 }))
    const read = await store.get('v7')
    await store.destroy('v7')
    await expect(store.set('v7', Object.assign(read, { n: 2 }))).resolves.toBeUndefined()
    expect(await store.get('v7')).toBeNull()
    expect((await rawItem(raw, store.table, 'sess:v7')).sess).toBeUndefined()
    await store.close()
  })

  test('a stale copy of a session removed since it was read (clear()) is a conflict, not brought back', async () => {
    const store = newStore({ versioning: true })
    await store.set('v13', cookieSession({ n: 1 }))
    const read = await store.get('v13')
    expect(await store.clear()).toBe(1)
    const err = await store.set('v13', Object.assign(read, { n: 2 })).catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_SESSION_CONFLICT', message: expect.stringMatching(/removed/) })
    expect(await rawItem(raw, store.table, 'sess:v13')).toBeUndefined()
    // A fresh session (nothing read) may take the id again.
    await store.set('v13', cookieSession({ n: 'fresh' }))
    expect(await store.get('v13')).toMatchObject({ n: 'fresh' })
    await store.close()
  })

  test('an expired session may be saved over by a fresh one', async () => {
    const store = newStore({ versioning: true })
    await store.set('v8', cookieSession({ n: 1 }))
    const item = await rawItem(raw, store.table, 'sess:v8')
    const ended = Date.now() - 5000
    await putRaw(raw, store.table, {
      ...item,
      version: { N: '9' },
      expires: { N: String(Math.floor(ended / 1000)) },
      expiresMs: { N: String(ended) },
    })
    expect(await store.get('v8')).toBeNull()
    await store.set('v8', cookieSession({ n: 'new' }))
    expect(await store.get('v8')).toMatchObject({ n: 'new', [VERSION_PROPERTY]: 1 })
    await store.close()
  })

  test('bad sessions are refused with codes, as without versioning', async () => {
    const store = newStore({ versioning: true })
    expect(await codeOf(store.set('v12', null))).toBe('ERR_INVALID_ARGUMENT')
    expect(await codeOf(store.set('v12', 'text'))).toBe('ERR_INVALID_ARGUMENT')
    const circular = cookieSession()
    circular.self = circular
    expect(await codeOf(store.set('v12', circular))).toBe('ERR_SESSION_NOT_SERIALIZABLE')
    expect(await store.get('v12')).toBeNull()
    await store.close()
  })

  test('the conflict reaches a callback with its code', async () => {
    const store = newStore({ versioning: true })
    await store.set('v9', cookieSession({ n: 1 }))
    const { args, calls } = await viaCallback((cb) => store.set('v9', cookieSession({ n: 2 }), cb))
    expect(calls).toBe(1)
    expect(args[0].code).toBe('ERR_SESSION_CONFLICT')
    await store.close()
  })

  test("without versioning, no version is written and the last save wins (connect-dynamodb's behaviour)", async () => {
    const store = newStore()
    await store.set('v10', cookieSession({ n: 1 }))
    const [a, b] = [await store.get('v10'), await store.get('v10')]
    expect(a).not.toHaveProperty(VERSION_PROPERTY)
    await store.set('v10', Object.assign(a, { n: 'a' }))
    await store.set('v10', Object.assign(b, { n: 'b' }))
    expect(await store.get('v10')).toMatchObject({ n: 'b' })
    expect((await rawItem(raw, store.table, 'sess:v10')).version).toBeUndefined()
    await store.close()
  })

  test('express-session: of two overlapping requests that both change the session, the later save fails', async () => {
    const store = newStore({ versioning: true })
    const app = express()
    app.use(session({ store, secret: 'versioning', resave: false, saveUninitialized: false }))
    let release
    const gate = new Promise((resolve) => (release = resolve))
    app.get('/login', (req, res) => {
      req.session.cart = []
      res.send('ok')
    })
    // Saving before answering lets the app answer a conflict (express-session's
    // own save at the end of the response can only pass the error to next()).
    app.get('/add/:item', async (req, res, next) => {
      if (req.params.item === 'slow') await gate
      req.session.cart.push(req.params.item)
      req.session.save((err) => (err ? next(err) : res.send(req.session.cart.join(','))))
    })
    app.get('/cart', (req, res) => res.send(req.session.cart.join(',')))
    app.get('/touch', (req, res) => res.send(String(req.session[VERSION_PROPERTY])))
    app.use((err, _req, res, _next) => res.status(409).send(err.code))

    const agent = request.agent(app)
    await agent.get('/login').expect(200)
    const slow = agent.get('/add/slow').then((r) => r)
    await new Promise((resolve) => setTimeout(resolve, 100)) // the slow request has loaded the session
    await agent.get('/add/fast').expect(200, 'fast')
    release()
    const late = await slow
    expect(late.status).toBe(409)
    expect(late.text).toBe('ERR_SESSION_CONFLICT')
    await agent.get('/cart').expect(200, 'fast')
    // Unchanged requests only touch: the version stays.
    await agent.get('/touch').expect(200, '2')
    await agent.get('/touch').expect(200, '2')
    await store.close()
  })
})

describe('lock', () => {
  test('one holder at a time; unlock lets the next one in', async () => {
    const store = newStore()
    await store.set('l1', cookieSession({ refresh_token: 'r1' }))
    const before = store.stats().consumedCapacity
    await store.lock('l1', 'r1')
    // Taking a lock is billed like any call: one small write, one consistent read.
    expect(store.stats().consumedCapacity.writeUnits - before.writeUnits).toBe(1)
    expect(store.stats().consumedCapacity.readUnits - before.readUnits).toBe(1)
    expect(await codeOf(store.lock('l1', 'r1'))).toBe('ERR_SESSION_LOCKED')
    await store.unlock('l1')
    await store.lock('l1', 'r1')
    await store.unlock('l1')
    await store.close()
  })

  test('of concurrent requests with the same refresh token, exactly one rotates it; the rest reload', async () => {
    const store = newStore()
    await store.set('l2', cookieSession({ refresh_token: 'r1' }))
    let rotations = 0
    // Every request has read the same refresh token before any of them tries to rotate it.
    const reads = await Promise.all(Array.from({ length: 6 }, () => store.get('l2')))
    const refresh = async (sess) => {
      try {
        await store.lock('l2', sess.refresh_token)
      } catch (err) {
        return err.code
      }
      rotations += 1
      sess.refresh_token = `r${rotations + 1}`
      await store.set('l2', sess)
      await store.unlock('l2')
      return 'rotated'
    }
    const outcomes = await Promise.all(reads.map(refresh))
    expect(outcomes.filter((o) => o === 'rotated')).toHaveLength(1)
    expect(outcomes.filter((o) => o === 'ERR_SESSION_LOCKED')).toHaveLength(5)
    expect(await store.get('l2')).toMatchObject({ refresh_token: 'r2' })
    await store.close()
  })

  test('a stale verification value is refused even when no one holds the lock, and leaves no lock behind', async () => {
    const store = newStore()
    await store.set('l3', cookieSession({ refresh_token: 'r2' }))
    const err = await store.lock('l3', 'r1').catch((e) => e)
    expect(err.code).toBe('ERR_SESSION_LOCKED')
    expect(err.message).toMatch(/refresh_token/)
    await store.lock('l3', 'r2')
    await store.close()
  })

  test('a lock ends by itself after maxLockTime', async () => {
    const store = newStore({ maxLockTime: 0.3 })
    await store.set('l4', cookieSession({ refresh_token: 'r1' }))
    await store.lock('l4', 'r1')
    expect(await codeOf(store.lock('l4', 'r1'))).toBe('ERR_SESSION_LOCKED')
    await new Promise((resolve) => setTimeout(resolve, 400))
    await store.lock('l4', 'r1')
    await store.close()
  })

  test("unlock after the lease ran out and another took it releases nothing of the other's", async () => {
    const a = newStore({ maxLockTime: 0.2 })
    const b = newStore({ table: a.table, maxLockTime: 5 })
    await a.set('l5', cookieSession({ refresh_token: 'r1' }))
    await a.lock('l5', 'r1')
    await new Promise((resolve) => setTimeout(resolve, 300))
    await b.lock('l5', 'r1')
    expect(await a.unlock('l5')).toBe(false)
    expect(await codeOf(a.lock('l5', 'r1'))).toBe('ERR_SESSION_LOCKED')
    await Promise.all([a.close(), b.close()])
  })

  test('lock() resolves its lease token: only that token releases it, and unlock says whether it did', async () => {
    const store = newStore()
    await store.set('t1', cookieSession({ refresh_token: 'r1' }))
    const token = await store.lock('t1', 'r1')
    expect(token).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(await store.holdsLock('t1', token)).toBe(true)
    expect(await store.unlock('t1', 'A'.repeat(22))).toBe(false)
    expect(await codeOf(store.lock('t1', 'r1'))).toBe('ERR_SESSION_LOCKED')
    expect(await store.unlock('t1', token)).toBe(true)
    expect(await store.holdsLock('t1', token)).toBe(false)
    expect(await store.unlock('t1', token)).toBe(false)
    const again = await store.lock('t1', 'r1')
    expect(
      await new Promise((resolve, reject) =>
        store.unlock('t1', (err, released) => (err ? reject(err) : resolve(released))),
      ),
    ).toBe(true)
    expect(await store.holdsLock('t1', again)).toBe(false)
    expect(await codeOf(store.unlock('t1', 'not a token!'))).toBe('ERR_INVALID_ARGUMENT')
    expect(await codeOf(store.holdsLock('t1'))).toBe('ERR_INVALID_ARGUMENT')
    await store.close()
  })

  test('a late unlock of an ended lease does not release the next holder in the same store', async () => {
    const store = newStore({ maxLockTime: 0.2 })
    const other = newStore({ table: store.table, maxLockTime: 0.2 })
    await store.set('t2', cookieSession({ refresh_token: 'r1' }))
    const first = await store.lock('t2', 'r1')
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(await store.holdsLock('t2', first)).toBe(false)
    const second = await store.lock('t2', 'r1')
    // Two calls of this store took the lock: a token-less unlock cannot tell whose it is.
    expect(await codeOf(store.unlock('t2'))).toBe('ERR_LOCK_AMBIGUOUS')
    expect(await store.unlock('t2', first)).toBe(false)
    expect(await codeOf(other.lock('t2', 'r1'))).toBe('ERR_SESSION_LOCKED')
    expect(await store.holdsLock('t2', second)).toBe(true)
    // With the first one accounted for, the token-less form releases the second.
    expect(await store.unlock('t2')).toBe(true)
    await other.lock('t2', 'r1')
    await Promise.all([store.close(), other.close()])
  })

  test("a store that never locked releases no one else's lock", async () => {
    const holder = newStore({ maxLockTime: 30 })
    const stranger = newStore({ table: holder.table })
    await holder.set('t3', cookieSession({ refresh_token: 'r1' }))
    const token = await holder.lock('t3', 'r1')
    expect(await stranger.unlock('t3')).toBe(false)
    expect(await codeOf(stranger.lock('t3', 'r1'))).toBe('ERR_SESSION_LOCKED')
    expect(await holder.holdsLock('t3', token)).toBe(true)
    await Promise.all([holder.close(), stranger.close()])
  })

  test('lockVerificationProperty names the property; any JSON value compares', async () => {
    const store = newStore({ lockVerificationProperty: 'grant' })
    await store.set('l6', cookieSession({ grant: { id: 7, scope: ['a'] } }))
    expect(await codeOf(store.lock('l6', { id: 7, scope: ['b'] }))).toBe('ERR_SESSION_LOCKED')
    await store.lock('l6', { id: 7, scope: ['a'] })
    await store.close()
  })

  test('the lock is a small item of its own: saves neither see nor release it, and all() never lists it', async () => {
    const store = newStore({
      compress: true,
      encryption: { keys: { k1: Buffer.alloc(32, 7).toString('base64') }, primaryKeyId: 'k1' },
    })
    await store.set('l7', cookieSession({ refresh_token: 'r1', pad: 'x'.repeat(5000) }))
    await store.lock('l7', 'r1')
    const lockItem = await rawItem(raw, store.table, 'sess:~lock~l7')
    expect(Object.keys(lockItem).sort()).toEqual(['expires', 'expiresMs', 'id', 'lockedUntil', 'owner', 'type'])
    await store.set('l7', cookieSession({ refresh_token: 'r1', n: 2 }))
    expect(await codeOf(store.lock('l7', 'r1'))).toBe('ERR_SESSION_LOCKED')
    expect((await store.all()).map((s) => s.id)).toEqual(['l7'])
    expect(await store.length()).toBe(1)
    await store.close()
  })

  test('a missing session cannot be locked; bad arguments are refused with codes', async () => {
    const store = newStore()
    expect(await codeOf(store.lock('nobody', 'r1'))).toBe('ERR_SESSION_NOT_FOUND')
    await store.set('l8', cookieSession({ refresh_token: 'r1' }))
    expect(await codeOf(store.lock('l8'))).toBe('ERR_INVALID_ARGUMENT')
    expect(await codeOf(store.lock('', 'r1'))).toBe('ERR_INVALID_ARGUMENT')
    expect(await codeOf(store.lock('~lock~l8', 'r1'))).toBe('ERR_INVALID_ARGUMENT')
    expect(await codeOf(store.set('~lock~x', cookieSession()))).toBe('ERR_INVALID_ARGUMENT')
    expect(await codeOf(store.unlock(42))).toBe('ERR_INVALID_ARGUMENT')
    await store.lock('l8', 'r1')
    await store.close()
  })

  test('works with hashed ids', async () => {
    const store = newStore({ hashIds: { secret: 'a secret of sixteen+' } })
    await store.set('l9', cookieSession({ refresh_token: 'r1' }))
    await store.lock('l9', 'r1')
    expect(await codeOf(store.lock('l9', 'r1'))).toBe('ERR_SESSION_LOCKED')
    await store.unlock('l9')
    await store.lock('l9', 'r1')
    await store.close()
  })
})
