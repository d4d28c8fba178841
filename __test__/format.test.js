'use strict'

// format: 'connect-dynamodb-session': the items of connect-dynamodb-session
// 1.1, read and written so that the real package and this store serve one
// table at once; and migrateFrom, which moves such a table to the native
// layout without logging anyone out.
const { promisify } = require('node:util')
const AWS = require('aws-sdk')
const connectDynamodbSession = require('connect-dynamodb-session')
const { DescribeTimeToLiveCommand } = require('@aws-sdk/client-dynamodb')
const { session, newStore, rawClient, rawItem, endpoint, nowSeconds } = require('./helpers')

const raw = rawClient()
const v2 = new AWS.DynamoDB({
  endpoint: endpoint(),
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
})
const TheirStore = connectDynamodbSession(session)

/** The real package on the same table; touchAfter 0 unless given (its default is 10 s). */
function theirs(tableName, options = {}) {
  const store = new TheirStore({ tableName, awsClient: v2, cleanupInterval: 0, touchAfter: 0, ...options })
  return {
    get: promisify(store.get.bind(store)),
    set: promisify(store.set.bind(store)),
    touch: promisify(store.touch.bind(store)),
    destroy: promisify(store.destroy.bind(store)),
  }
}

const cookieSession = (data = {}, maxAge = 60_000) => ({ cookie: new session.Cookie({ maxAge }), ...data })
const asStored = (sess) => JSON.parse(JSON.stringify(sess))

afterAll(() => raw.destroy())

describe("format: 'connect-dynamodb-session'", () => {
  const ours = newStore({ format: 'connect-dynamodb-session' })
  let their
  beforeAll(async () => {
    await ours.initialize()
    their = theirs(ours.table)
  })
  afterAll(() => ours.close())

  test('writes exactly its layout, plus ttl in seconds for DynamoDB TTL', async () => {
    const sess = cookieSession({ user: 'ann' })
    await ours.set('layout', sess)
    const item = await rawItem(raw, ours.table, 'layout')
    expect(Object.keys(item).sort()).toEqual(['content', 'expires', 'id', 'ttl'])
    expect(item.id).toEqual({ S: 'layout' })
    expect(Number(item.expires.N)).toBe(sess.cookie.expires.getTime())
    expect(Number(item.ttl.N)).toBe(Math.ceil(sess.cookie.expires.getTime() / 1000))
    expect(JSON.parse(item.content.S)).toEqual(asStored(sess))
  })

  test('the table it creates has TTL on the seconds attribute', async () => {
    const ttl = await raw.send(new DescribeTimeToLiveCommand({ TableName: ours.table }))
    expect(ttl.TimeToLiveDescription).toMatchObject({ AttributeName: 'ttl', TimeToLiveStatus: 'ENABLED' })
  })

  test('sessions written by connect-dynamodb-session are read here, and the other way round', async () => {
    const a = cookieSession({ cart: [1, 2] })
    await their.set('from-theirs', a)
    expect(await ours.get('from-theirs')).toEqual(asStored(a))
    const b = cookieSession({ nested: { deep: true } })
    await ours.set('from-ours', b)
    expect(await their.get('from-ours')).toEqual(asStored(b))
  })

  test('its touchAfter keeps lastModified inside the content, and this store leaves it there', async () => {
    const lazy = theirs(ours.table, { touchAfter: 60_000 })
    const sess = cookieSession({ n: 1 })
    await lazy.set('lazy', sess)
    const read = await ours.get('lazy')
    expect(typeof read.lastModified).toBe('number')
    read.n = 2
    await ours.set('lazy', read)
    const back = await lazy.get('lazy')
    expect(back).toMatchObject({ n: 2, lastModified: read.lastModified })
    // Its touch within touchAfter writes nothing, after it a whole save: both keep the session.
    await lazy.touch('lazy', back)
    expect((await ours.get('lazy')).n).toBe(2)
  })

  test("touch moves both expiry attributes, on either package's items", async () => {
    await their.set('touch-theirs', cookieSession({ n: 1 }, 10_000))
    const touched = await ours.touch('touch-theirs', cookieSession({ n: 1 }, 3_600_000))
    expect(Number(touched.expires)).toBeGreaterThan(nowSeconds() + 3_500)
    const item = await rawItem(raw, ours.table, 'touch-theirs')
    expect(Number(item.expires.N)).toBeGreaterThan(Date.now() + 3_500_000)
    expect(Number(item.ttl.N)).toBe(Math.ceil(Number(item.expires.N) / 1000))
    expect((await their.get('touch-theirs')).n).toBe(1)

    await ours.set('touch-ours', cookieSession({ n: 2 }, 10_000))
    await their.touch('touch-ours', cookieSession({ n: 2 }, 3_600_000))
    const after = await rawItem(raw, ours.table, 'touch-ours')
    expect(Number(after.expires.N)).toBeGreaterThan(Date.now() + 3_500_000)
    expect((await ours.get('touch-ours')).n).toBe(2)
  })

  test('expiry is judged alike, in milliseconds', async () => {
    await their.set('expired', cookieSession({}, -5))
    expect(await their.get('expired')).toBeNull()
    expect(await ours.get('expired')).toBeNull()
    expect(await ours.touch('expired', cookieSession({}, 60_000))).toBeNull()
    await ours.set('short', cookieSession({}, 1_500))
    expect(await their.get('short')).not.toBeNull()
    await new Promise((r) => setTimeout(r, 1_700))
    expect(await their.get('short')).toBeNull()
    expect(await ours.get('short')).toBeNull()
  })

  test('destroy works across the two, and a destroyed session stays destroyed for both', async () => {
    await their.set('d1', cookieSession({ n: 1 }))
    await ours.destroy('d1')
    expect(await their.get('d1')).toBeNull()
    expect(await ours.get('d1')).toBeNull()
    await ours.set('d2', cookieSession({ n: 2 }))
    await their.destroy('d2')
    expect(await ours.get('d2')).toBeNull()
  })

  test('all(), length() and reap() see this layout', async () => {
    const mine = newStore({ format: 'connect-dynamodb-session', skipUnchangedWrites: false })
    await mine.set('one', cookieSession({ n: 1 }))
    await theirs(mine.table).set('two', cookieSession({ n: 2 }))
    expect((await mine.all()).map((s) => s.id).sort()).toEqual(['one', 'two'])
    expect(await mine.length()).toBe(2)
    await mine.close()
  })

  test("this store's touchAfter works in milliseconds too", async () => {
    const lazy = newStore({
      table: ours.table,
      format: 'connect-dynamodb-session',
      touchAfter: 60_000,
      initialized: true,
    })
    await lazy.set('ours-lazy', cookieSession({ n: 1 }, 3_600_000))
    await lazy.get('ours-lazy')
    const before = (await rawItem(raw, ours.table, 'ours-lazy')).expires.N
    expect(await lazy.touch('ours-lazy', cookieSession({ n: 1 }, 3_600_000))).not.toBeNull()
    expect(lazy.stats().skippedWrites).toBe(1)
    expect((await rawItem(raw, ours.table, 'ours-lazy')).expires.N).toBe(before)
    // A touch that moves the expiry by more than touchAfter is written.
    await lazy.touch('ours-lazy', cookieSession({ n: 1 }, 7_200_000))
    expect(Number((await rawItem(raw, ours.table, 'ours-lazy')).expires.N)).toBeGreaterThan(Number(before) + 3_000_000)
    await lazy.close()
  })

  test('locks work with it', async () => {
    await ours.set('locked', cookieSession({ refresh_token: 'r1' }))
    await ours.lock('locked', 'r1')
    await expect(ours.lock('locked', 'r1')).rejects.toMatchObject({ code: 'ERR_SESSION_LOCKED' })
    await ours.unlock('locked')
    await ours.lock('locked', 'r1')
    await ours.unlock('locked')
  })

  test.each([
    [{ compress: true }, 'compress'],
    [{ encryption: { keys: { k: Buffer.alloc(32).toString('base64') }, primaryKeyId: 'k' } }, 'encryption'],
    [{ hashIds: { secret: 'a secret of at least sixteen bytes' } }, 'hashIds'],
    [{ userPath: 'user' }, 'userPath'],
    [{ prefix: 'sess:' }, 'prefix'],
    [{ specialKeys: [{ name: 'ttl', type: 'N' }] }, 'specialKeys'],
  ])('refuses %j, naming the conflict', (option, name) => {
    expect(() => newStore({ format: 'connect-dynamodb-session', ...option })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining(`"${name}"`) }),
    )
  })

  test('an unknown format or migrateFrom is refused', () => {
    for (const option of [
      { format: 'redis' },
      { migrateFrom: 'connect-dynamodb' },
      { migrateFrom: 'connect-dynamodb-session', prefix: '' },
    ]) {
      expect(() => newStore(option)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }))
    }
  })
})

describe("migrateFrom: 'connect-dynamodb-session'", () => {
  const legacy = newStore({ format: 'connect-dynamodb-session' })
  let native
  let their
  beforeAll(async () => {
    await legacy.initialize()
    native = newStore({ table: legacy.table, migrateFrom: 'connect-dynamodb-session' })
    their = theirs(legacy.table)
  })
  afterAll(() => Promise.all([legacy.close(), native.close()]))

  test('a session in the old layout is served and moved to the native layout on its first read', async () => {
    const sess = cookieSession({ user: 'ann' }, 3_600_000)
    await their.set('old', sess)
    expect(await native.get('old')).toMatchObject({ user: 'ann' })
    expect(await rawItem(raw, legacy.table, 'old')).toBeUndefined()
    const moved = await rawItem(raw, legacy.table, 'sess:old')
    expect(moved.type).toEqual({ S: 'connect-session' })
    expect(Number(moved.expires.N)).toBe(Math.ceil(sess.cookie.expires.getTime() / 1000))
    expect(await native.get('old')).toMatchObject({ user: 'ann' })
    expect(native.stats().operations.get).toBe(2)
    // From now on it lives in the native layout: touches and saves reach it.
    expect(await native.touch('old', cookieSession({ user: 'ann' }, 7_200_000))).not.toBeNull()
  })

  test('a session never read since is still destroyed in the old layout', async () => {
    await their.set('never-read', cookieSession({ n: 1 }))
    await native.destroy('never-read')
    expect(await their.get('never-read')).toBeNull()
    expect(await native.get('never-read')).toBeNull()
  })

  test('expired and missing old sessions stay missing, and new ones are native', async () => {
    await their.set('old-expired', cookieSession({}, -5))
    expect(await native.get('old-expired')).toBeNull()
    expect(await native.get('nowhere')).toBeNull()
    await native.set('fresh', cookieSession({ n: 3 }))
    expect(await rawItem(raw, legacy.table, 'fresh')).toBeUndefined()
    expect((await native.get('fresh')).n).toBe(3)
  })
})
