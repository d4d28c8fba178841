'use strict'

const { promisify } = require('node:util')
const ConnectDynamoDB = require('connect-dynamodb')
const { session, newStore, rawClient, rawItem, putRaw, cookieSession, nowSeconds } = require('./helpers')
const { realisticSession } = require('../bench/sessions')

const raw = rawClient()
afterAll(() => raw.destroy())

const asStored = (sess) => JSON.parse(JSON.stringify(sess))
const storedBytes = (item) => (item.sess.B ? item.sess.B.length : Buffer.byteLength(item.sess.S))

describe('compress', () => {
  test('a large session is stored as Binary, much smaller, and read back intact', async () => {
    const store = newStore({ compress: true })
    const sess = realisticSession(64 * 1024)
    await store.set('c1', sess)
    const item = await rawItem(raw, store.table, 'sess:c1')
    expect(item.sess.B).toBeInstanceOf(Uint8Array)
    expect(storedBytes(item)).toBeLessThan(JSON.stringify(sess).length / 2)
    expect(Object.keys(item).sort()).toEqual(['expires', 'expiresMs', 'id', 'sess', 'type'])
    expect(await store.get('c1')).toEqual(asStored(sess))
    await store.close()
  })

  test('sessions under minBytes stay plain strings that connect-dynamodb reads', async () => {
    const store = newStore({ compress: { minBytes: 8 * 1024 } })
    const small = realisticSession(4 * 1024)
    const large = realisticSession(16 * 1024)
    await store.set('c2', small)
    await store.set('c3', large)
    expect((await rawItem(raw, store.table, 'sess:c2')).sess.S).toBe(JSON.stringify(small))
    expect((await rawItem(raw, store.table, 'sess:c3')).sess.B).toBeDefined()

    const Theirs = ConnectDynamoDB(session)
    const theirs = new Theirs({ table: store.table, client: raw })
    expect(await promisify(theirs.get.bind(theirs))('c2')).toEqual(asStored(small))
    // The README's warning, checked: connect-dynamodb cannot read a compressed item.
    const theirView = await promisify(theirs.get.bind(theirs))('c3').then(
      (sess) => sess,
      (err) => err,
    )
    expect(theirView).not.toEqual(asStored(large))
    await store.close()
  })

  test('the default threshold is 1 KB', async () => {
    const store = newStore({ compress: true })
    await store.set('c4', cookieSession({ note: 'x'.repeat(900) }))
    await store.set('c5', realisticSession(1200))
    expect((await rawItem(raw, store.table, 'sess:c4')).sess.S).toBeDefined()
    expect((await rawItem(raw, store.table, 'sess:c5')).sess.B).toBeDefined()
    await store.close()
  })

  test('turning compression off (or on) strands no session: reads take both forms', async () => {
    const on = newStore({ compress: true })
    const off = newStore({ table: on.table })
    const a = realisticSession(8 * 1024)
    const b = realisticSession(8 * 1024, 'other')
    await on.set('c6', a)
    await off.set('c7', b)
    expect(await off.get('c6')).toEqual(asStored(a))
    expect(await on.get('c7')).toEqual(asStored(b))
    expect(await on.all()).toEqual(
      expect.arrayContaining([
        { id: 'c6', ...asStored(a) },
        { id: 'c7', ...asStored(b) },
      ]),
    )
    await Promise.all([on.close(), off.close()])
  })

  test('a 1 MB session that compresses under 400 KB is storable; without compress it is refused', async () => {
    const store = newStore({ compress: true })
    const sess = realisticSession(1024 * 1024)
    expect(JSON.stringify(sess).length).toBeGreaterThan(1024 * 1024)
    await store.set('c8', sess)
    expect(storedBytes(await rawItem(raw, store.table, 'sess:c8'))).toBeLessThan(400 * 1024)
    expect(await store.get('c8')).toEqual(asStored(sess))

    const plain = newStore({ table: store.table })
    await expect(plain.set('c9', sess)).rejects.toMatchObject({ code: 'ERR_SESSION_TOO_LARGE' })
    await Promise.all([store.close(), plain.close()])
  })

  test('an unchanged compressed session is not rewritten', async () => {
    const store = newStore({ compress: true })
    const sess = realisticSession(8 * 1024)
    await store.set('c10', sess)
    await store.get('c10')
    await store.set('c10', { ...sess, cookie: { ...sess.cookie } })
    expect(store.stats()).toMatchObject({ operations: { set: 1 }, downgradedSets: 1 })
    await store.close()
  })

  test('a damaged compressed item is a clear error, not garbage or a crash', async () => {
    const store = newStore({ compress: true })
    await store.initialize()
    const item = (B) => ({
      id: { S: 'sess:bad' },
      expires: { N: String(nowSeconds() + 600) },
      type: { S: 'connect-session' },
      sess: { B },
    })
    for (const bytes of [[1, 255, 255, 0], [0x40, 1, 2], [0]]) {
      await putRaw(raw, store.table, item(Uint8Array.from(bytes)))
      const err = await store.get('bad').catch((e) => e)
      expect(err).toBeInstanceOf(Error)
      expect(err.code).toBe('ERR_SESSION_CORRUPT')
    }
    await new Promise((resolve) => store.get('bad', (err) => resolve(expect(err.code).toBe('ERR_SESSION_CORRUPT'))))
    // all() leaves it out (with a warning) instead of failing the whole listing.
    await store.set('good', cookieSession({ n: 1 }))
    expect((await store.all()).map((s) => s.id)).toEqual(['good'])
    await store.close()
  })

  test.each([['yes'], [1], [{ minBytes: -1 }], [{ minBytes: 'big' }], [{ level: 9 }]])(
    'compress: %j is refused, naming the option',
    (compress) => {
      expect(() => newStore({ compress })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/compress/) }),
      )
    },
  )
})
