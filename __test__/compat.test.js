'use strict'

// The drop-in promise: connect-dynamodb 3.0.5 and this store share a table
// and each other's live sessions.
const { promisify } = require('node:util')
const ConnectDynamoDB = require('connect-dynamodb')
const { PutItemCommand } = require('@aws-sdk/client-dynamodb')
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

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
/** Waits until the clock is at least `ms` into its current second. */
async function intoTheSecond(ms) {
  while (Date.now() % 1000 < ms || Date.now() % 1000 > 900) await sleep(10)
}

test('a rolling deploy: a session connect-dynamodb touched lives as its touch says, though the end to the millisecond this store wrote has passed', async () => {
  // connect-dynamodb's touch moves `expires` alone, leaving this store's expiresMs behind.
  await ours.set('touched-by-theirs', cookieSession({ n: 1 }, 1000))
  await their.touch('touched-by-theirs', cookieSession({ n: 1 }, 3_600_000))
  await sleep(1200)
  const item = await rawItem(raw, ours.table, 'sess:touched-by-theirs')
  expect(Number(item.expiresMs.N)).toBeLessThan(Date.now())
  expect(Number(item.expires.N)).toBeGreaterThan(nowSeconds() + 3000)
  expect((await their.get('touched-by-theirs')).n).toBe(1)
  expect((await ours.get('touched-by-theirs')).n).toBe(1)
  expect(await ours.ids()).toContain('touched-by-theirs')
  await ours.reap()
  expect(await rawItem(raw, ours.table, 'sess:touched-by-theirs')).toBeDefined()
  await ours.touch('touched-by-theirs', cookieSession({ n: 1 }, 3_600_000))
  const touched = await rawItem(raw, ours.table, 'sess:touched-by-theirs')
  expect(Number(touched.expiresMs.N)).toBeGreaterThan(Date.now() + 3_500_000)
  expect(Number(touched.expires.N)).toBe(Math.ceil(Number(touched.expiresMs.N) / 1000))
})

test("rotate keeps the last partial second of a connect-dynamodb item's fractional expires", async () => {
  await intoTheSecond(400)
  const expires = Math.floor(Date.now() / 1000) + 0.2
  const sess = JSON.stringify(cookieSession({ n: 2 }))
  await raw.send(
    new PutItemCommand({
      TableName: ours.table,
      Item: {
        id: { S: 'sess:fractional' },
        expires: { N: String(expires) },
        type: { S: 'connect-session' },
        sess: { S: sess },
      },
    }),
  )
  // connect-dynamodb serves it until its whole second has passed, and so does this store.
  expect((await their.get('fractional')).n).toBe(2)
  expect((await ours.get('fractional')).n).toBe(2)
  await ours.rotate('fractional', 'fractional-rotated')
  expect((await ours.get('fractional-rotated')).n).toBe(2)
})
