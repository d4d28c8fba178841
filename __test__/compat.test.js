'use strict'

// The drop-in promise: connect-dynamodb 3.0.5 and this store share a table
// and each other's live sessions.
const { promisify } = require('node:util')
const ConnectDynamoDB = require('connect-dynamodb')
const { session, newStore, rawClient, rawItem, nowSeconds } = require('./helpers')

/** A session with a real express-session Cookie, as the middleware hands it over. */
const cookieSession = (data = {}, maxAge = 60_000) => ({ cookie: new session.Cookie({ maxAge }), ...data })
const asStored = (sess) => JSON.parse(JSON.stringify(sess))

const raw = rawClient()
const ours = newStore()
const Theirs = ConnectDynamoDB(session)
const theirs = new Theirs({ table: ours.table, client: raw })
const their = {
  get: promisify(theirs.get.bind(theirs)),
  set: promisify(theirs.set.bind(theirs)),
  touch: promisify(theirs.touch.bind(theirs)),
  destroy: promisify(theirs.destroy.bind(theirs)),
}

beforeAll(() => ours.initialize())
afterAll(async () => {
  await ours.close()
  raw.destroy()
})

test('sessions written by connect-dynamodb are read by this store', async () => {
  const sess = cookieSession({ user: 'ann', cart: [1, 2] })
  await their.set('from-theirs', sess)
  expect(await ours.get('from-theirs')).toEqual(asStored(sess))
})

test('sessions written by this store are read by connect-dynamodb', async () => {
  const sess = cookieSession({ user: 'bob', nested: { deep: true } })
  await ours.set('from-ours', sess)
  expect(await their.get('from-ours')).toEqual(asStored(sess))
})

test('both write the same attributes with the same values, and this store the end to the millisecond beside them', async () => {
  const sess = cookieSession({ same: 1 }, 600_000)
  await their.set('layout-theirs', sess)
  await ours.set('layout-ours', sess)
  const a = await rawItem(raw, ours.table, 'sess:layout-theirs')
  const b = await rawItem(raw, ours.table, 'sess:layout-ours')
  expect(Object.keys(b).sort()).toEqual([...Object.keys(a), 'expiresMs'].sort())
  const cookieEnd = Date.parse(JSON.parse(b.sess.S).cookie.expires)
  expect(Number(b.expiresMs.N)).toBe(cookieEnd)
  expect(Number(b.expires.N)).toBe(Math.ceil(cookieEnd / 1000))
  expect(b.type).toEqual(a.type)
  expect(b.sess).toEqual(a.sess)
  // connect-dynamodb writes now + maxAge (often fractional); we write the
  // cookie's own expiry, rounded up. They agree to within a second or two.
  expect(Math.abs(Number(b.expires.N) - Number(a.expires.N))).toBeLessThanOrEqual(2)
})

test('touch and destroy work across the two', async () => {
  await their.set('cross', cookieSession({ n: 1 }, 10_000))
  const touched = await ours.touch('cross', cookieSession({ n: 1 }, 3_600_000))
  expect(Number(touched.expires)).toBeGreaterThan(nowSeconds() + 3_500)
  expect((await their.get('cross')).n).toBe(1)
  await their.destroy('cross')
  expect(await ours.get('cross')).toBeNull()
})

test('expiry is judged alike: a session connect-dynamodb considers expired reads as null here', async () => {
  await their.set('short', cookieSession({}, -1000))
  expect(await their.get('short')).toBeNull()
  expect(await ours.get('short')).toBeNull()
})
