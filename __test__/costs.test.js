'use strict'

const { CreateTableCommand, DescribeTimeToLiveCommand, DescribeTableCommand } = require('@aws-sdk/client-dynamodb')
const { newStore, uniqueTable, connection, rawClient, rawItem, cookieSession, viaCallback, nowSeconds, DynamoDBStore } =
  require('./helpers')

const raw = rawClient()
afterAll(() => raw.destroy())

const storedExpires = async (store, sid) => Number((await rawItem(raw, store.table, `sess:${sid}`)).expires.N)
const storedSess = async (store, sid) => JSON.parse((await rawItem(raw, store.table, `sess:${sid}`)).sess.S)
/** The session as express-session hands it back on the next request: same data, cookie moved on. */
const later = (sess, ms) => ({
  ...sess,
  cookie: { ...sess.cookie, expires: new Date(Date.parse(sess.cookie.expires) + ms).toISOString() },
})

describe('touchAfter', () => {
  test('a touch soon after the last refresh writes nothing; a later one does', async () => {
    const store = newStore({ touchAfter: 60_000 })
    const sess = cookieSession({ n: 1 }, 3_600_000)
    await store.set('t1', sess)
    const before = await storedExpires(store, 't1')
    await store.get('t1')
    expect(await store.touch('t1', later(sess, 5_000))).toEqual({ expires: String(before) })
    expect(await storedExpires(store, 't1')).toBe(before)
    expect(store.stats().skippedWrites).toBe(1)
    expect(store.stats().operations.touch).toBe(0)

    const result = await store.touch('t1', later(sess, 120_000))
    expect(Number(result.expires)).toBeGreaterThanOrEqual(before + 119)
    expect(await storedExpires(store, 't1')).toBe(Number(result.expires))
    expect(store.stats().operations.touch).toBe(1)
    await store.close()
  })

  test('with the default (0) every touch writes, as connect-dynamodb does', async () => {
    const store = newStore()
    const sess = cookieSession({}, 3_600_000)
    await store.set('t2', sess)
    await store.get('t2')
    await store.touch('t2', later(sess, 5_000))
    expect(await storedExpires(store, 't2')).toBe(Math.ceil((Date.parse(sess.cookie.expires) + 5_000) / 1000))
    expect(store.stats()).toMatchObject({ skippedWrites: 0, operations: { touch: 1 } })
    await store.close()
  })

  test('the bookkeeping stays out of the session data and the item', async () => {
    const store = newStore({ touchAfter: 60_000 })
    const sess = cookieSession({ n: 1 })
    await store.set('t3', sess)
    await store.touch('t3', later(sess, 1_000))
    expect(Object.keys(await rawItem(raw, store.table, 'sess:t3')).sort()).toEqual([
      'expires',
      'expiresMs',
      'id',
      'sess',
      'type',
    ])
    expect(Object.keys(await store.get('t3')).sort()).toEqual(['cookie', 'n'])
    await store.close()
  })
})

describe('skipUnchangedWrites', () => {
  test('an unchanged save becomes a touch: the expiry moves, the payload is not rewritten', async () => {
    const store = newStore()
    const sess = cookieSession({ cart: ['a'] }, 3_600_000)
    await store.set('u1', sess)
    const loaded = await store.get('u1')
    await store.set('u1', later(loaded, 10_000))
    expect(store.stats()).toMatchObject({ downgradedSets: 1, operations: { set: 1, touch: 1 } })
    expect((await storedSess(store, 'u1')).cookie.expires).toBe(sess.cookie.expires)
    expect(await storedExpires(store, 'u1')).toBe(Math.ceil((Date.parse(sess.cookie.expires) + 10_000) / 1000))
    await store.close()
  })

  test('a changed save writes the whole session', async () => {
    const store = newStore()
    await store.set('u2', cookieSession({ cart: ['a'] }))
    const loaded = await store.get('u2')
    await store.set('u2', { ...loaded, cart: ['a', 'b'] })
    expect((await store.get('u2')).cart).toEqual(['a', 'b'])
    expect(store.stats().downgradedSets).toBe(0)
    await store.close()
  })

  test('a write from another instance between a get and an unchanged save is not lost', async () => {
    const table = uniqueTable('race')
    const a = newStore({ table })
    const b = newStore({ table })
    await a.set('u3', cookieSession({ step: 1 }))
    const seenByA = await a.get('u3')
    const seenByB = await b.get('u3')
    await b.set('u3', { ...seenByB, step: 2 })
    await a.set('u3', later(seenByA, 1_000))
    expect((await a.get('u3')).step).toBe(2)
    await Promise.all([a.close(), b.close()])
  })

  test('a session destroyed by another instance is not brought back by an unchanged save', async () => {
    const table = uniqueTable('gone')
    const a = newStore({ table })
    const b = newStore({ table })
    await a.set('u4', cookieSession({ user: 'ann' }))
    const seen = await a.get('u4')
    await b.destroy('u4')
    await a.set('u4', later(seen, 1_000))
    expect((await rawItem(raw, table, 'sess:u4')).sess).toBeUndefined()
    await Promise.all([a.close(), b.close()])
  })

  test('with touchAfter, an unchanged save soon after the last refresh sends nothing', async () => {
    const store = newStore({ touchAfter: 60_000 })
    await store.set('u5', cookieSession({ n: 1 }))
    const loaded = await store.get('u5')
    await store.set('u5', later(loaded, 2_000))
    expect(store.stats()).toMatchObject({ skippedWrites: 1, downgradedSets: 0, operations: { set: 1, touch: 0 } })
    await store.close()
  })

  test('skipUnchangedWrites: false always writes the whole session', async () => {
    const store = newStore({ skipUnchangedWrites: false })
    await store.set('u6', cookieSession({ n: 1 }))
    const loaded = await store.get('u6')
    const next = later(loaded, 10_000)
    await store.set('u6', next)
    expect((await storedSess(store, 'u6')).cookie.expires).toBe(next.cookie.expires)
    expect(store.stats()).toMatchObject({ downgradedSets: 0, operations: { set: 2, touch: 0 } })
    await store.close()
  })
})

describe('the stored cookie expiry follows touches', () => {
  test('get reports the touched expiry in cookie.expires without the payload being rewritten', async () => {
    const store = newStore()
    const sess = cookieSession({ n: 1 }, 60_000)
    await store.set('c1', sess)
    await store.touch('c1', later(sess, 30_000))
    const stored = await storedSess(store, 'c1')
    expect(stored.cookie.expires).toBe(sess.cookie.expires)
    const loaded = await store.get('c1')
    // To the millisecond: the touch's own cookie expiry, not its second.
    expect(Date.parse(loaded.cookie.expires)).toBe(Date.parse(sess.cookie.expires) + 30_000)
    await store.close()
  })

  test('an untouched session reads back with its own cookie expiry; a null expiry stays null', async () => {
    const store = newStore()
    const sess = cookieSession({}, 60_000)
    await store.set('c2', sess)
    expect((await store.get('c2')).cookie.expires).toBe(sess.cookie.expires)
    await store.set('c3', { cookie: { originalMaxAge: null, expires: null, path: '/' } })
    await store.touch('c3', { cookie: { expires: null } })
    expect((await store.get('c3')).cookie.expires).toBeNull()
    await store.close()
  })
})

describe('ttl', () => {
  test('a number: the lifetime of sessions whose cookie has no expiry', async () => {
    const store = newStore({ ttl: 3_600_000 })
    await store.set('l1', { cookie: { expires: null }, n: 1 })
    const expires = await storedExpires(store, 'l1')
    expect(expires).toBeGreaterThanOrEqual(nowSeconds() + 3598)
    expect(expires).toBeLessThanOrEqual(nowSeconds() + 3601)
    await store.close()
  })

  test('a function of the session', async () => {
    const seen = []
    const store = newStore({
      ttl: (sess) => {
        seen.push(sess.kind)
        return sess.kind === 'long' ? 7_200_000 : 60_000
      },
    })
    await store.set('l2', { kind: 'long' })
    await store.set('l3', { kind: 'short' })
    expect(seen).toEqual(['long', 'short'])
    expect((await storedExpires(store, 'l2')) - nowSeconds()).toBeGreaterThan(7000)
    expect((await storedExpires(store, 'l3')) - nowSeconds()).toBeLessThanOrEqual(61)
    await store.close()
  })

  test('a function that throws or answers nonsense fails the save through the callback', async () => {
    const throwing = newStore({
      ttl: () => {
        throw new Error('boom')
      },
    })
    const viaCb = await viaCallback((cb) => throwing.set('l4', {}, cb))
    expect(viaCb.args[0].message).toBe('boom')
    const nonsense = newStore({ ttl: () => 'soon' })
    await expect(nonsense.set('l5', {})).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' })
    await Promise.all([throwing.close(), nonsense.close()])
  })
})

describe('table options', () => {
  test('a table the store creates has DynamoDB TTL on "expires"', async () => {
    const store = newStore()
    await store.initialize()
    const { TimeToLiveDescription } = await raw.send(new DescribeTimeToLiveCommand({ TableName: store.table }))
    expect(TimeToLiveDescription).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expires' })
    await store.close()
  })

  test('billingMode PAY_PER_REQUEST, for the table and the user index', async () => {
    const store = newStore({ billingMode: 'PAY_PER_REQUEST', userPath: 'user' })
    await store.initialize()
    const { Table } = await raw.send(new DescribeTableCommand({ TableName: store.table }))
    expect(Table.BillingModeSummary.BillingMode).toBe('PAY_PER_REQUEST')
    expect(Table.GlobalSecondaryIndexes[0].IndexName).toBe('user-id-index')
    await store.close()
  })

  test('autoCreate: false never creates the table', async () => {
    const store = newStore({ autoCreate: false })
    const err = await store.set('a1', cookieSession()).catch((e) => e)
    expect(err.code).toBe('ResourceNotFoundException')
    expect(err.message).toMatch(/autoCreate is false/)
    const missing = await raw.send(new DescribeTableCommand({ TableName: store.table })).catch((e) => e.name)
    expect(missing).toBe('ResourceNotFoundException')
    await store.close()
  })

  test('an existing table without TTL is reported once through the log hook', async () => {
    const table = uniqueTable('nottl')
    await raw.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    )
    const messages = []
    const store = newStore({ table, log: (m) => messages.push(m) })
    await store.get('x')
    await store.get('y')
    await new Promise((r) => setTimeout(r, 50))
    const warnings = messages.filter((m) => m.startsWith('warn: '))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/TTL off/)

    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {})
    const silent = newStore({ table })
    await silent.initialize()
    await new Promise((r) => setTimeout(r, 50))
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^connect-dynamodb-rs: table .* TTL off/))
    warn.mockRestore()
    await Promise.all([store.close(), silent.close()])
  })

  test('consistentRead: false reads eventually consistent (half the read capacity)', async () => {
    const table = uniqueTable('reads')
    const strong = newStore({ table })
    const eventual = newStore({ table, consistentRead: false })
    await strong.set('r1', cookieSession({ n: 1 }))
    expect((await strong.get('r1')).n).toBe(1)
    expect((await eventual.get('r1')).n).toBe(1)
    expect(strong.stats().consumedCapacity.readUnits).toBe(1)
    expect(eventual.stats().consumedCapacity.readUnits).toBe(0.5)
    await Promise.all([strong.close(), eventual.close()])
  })
})

describe('stats() and hooks', () => {
  test('counts per operation and the capacity DynamoDB reports', async () => {
    const store = newStore()
    const sess = cookieSession({ blob: 'x'.repeat(2000) })
    await store.set('s1', sess)
    await store.get('s1')
    await store.get('missing')
    await store.touch('s1', sess)
    await store.destroy('s1')
    const stats = store.stats()
    expect(stats.operations).toEqual({ get: 2, set: 1, touch: 1, destroy: 1 })
    // A ~2.2 KB item: 3 WCU to put, 3 to update, 3 to delete; 1 RCU per strong read.
    expect(stats.consumedCapacity).toEqual({ readUnits: 2, writeUnits: 9 })
    await store.close()
  })

  test('the err hook hears every failure, and the caller still gets it', async () => {
    const heard = []
    const store = newStore({ err: (message, error) => heard.push([message, error.code]) })
    const viaCb = await viaCallback((cb) => store.get('', cb))
    expect(viaCb.args[0].code).toBe('ERR_INVALID_ARGUMENT')
    await expect(store.set('ok', 5)).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
    expect(heard).toEqual([
      [expect.stringMatching(/^get failed: /), 'ERR_INVALID_ARGUMENT'],
      [expect.stringMatching(/^set failed: /), 'ERR_INVALID_ARGUMENT'],
    ])
    await store.close()
  })

  test('the err hook also hears the other methods, the user methods and the reaper', async () => {
    const heard = []
    const store = newStore({ err: (message) => heard.push(message) })
    await expect(store.listSessionsForUser('')).rejects.toMatchObject({ code: 'ERR_INVALID_USER' })
    await expect(store.destroyOtherSessionsForUser('ann', '')).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
    await store.close()
    await expect(store.ids()).rejects.toMatchObject({ code: 'ERR_STORE_CLOSED' })
    await expect(store.reap()).rejects.toMatchObject({ code: 'ERR_STORE_CLOSED' })
    expect(heard.map((m) => m.split(' ')[0])).toEqual([
      'listSessionsForUser',
      'destroyOtherSessionsForUser',
      'ids',
      'reap',
    ])
  })

  test('hooks that are not functions are refused', () => {
    expect(() => newStore({ err: 'yes' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }))
    expect(() => newStore({ log: 1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }))
  })
})

describe("connect-dynamodb-session's option names", () => {
  test('tableName, region, endpoint, readCapacity, writeCapacity, cleanupInterval', async () => {
    const { endpoint, accessKeyId, secretAccessKey } = connection()
    const table = uniqueTable('alias')
    const store = new DynamoDBStore({
      tableName: table,
      region: 'us-east-1',
      endpoint,
      AWSConfigJSON: { accessKeyId, secretAccessKey },
      readCapacity: 3,
      writeCapacity: 2,
      cleanupInterval: 60_000,
    })
    expect(store.table).toBe(table)
    await store.set('al1', cookieSession())
    const { Table } = await raw.send(new DescribeTableCommand({ TableName: table }))
    expect(Table.ProvisionedThroughput).toMatchObject({ ReadCapacityUnits: 3, WriteCapacityUnits: 2 })
    await store.close()
  })

  test('awsClient is the client', async () => {
    const store = new DynamoDBStore({ tableName: uniqueTable('alias'), awsClient: raw })
    expect(store.client).toBe(raw)
    await store.set('al2', cookieSession({ n: 2 }))
    expect((await store.get('al2')).n).toBe(2)
    await store.close()
  })

  test('an alias and its name with different values is an error', () => {
    expect(() => newStore({ tableName: 'abc', table: 'xyz' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    )
    expect(() => newStore({ endpoint: 'http://127.0.0.1:1' })).toThrow(/AWSConfigJSON.endpoint/)
  })
})

describe('device records', () => {
  test('recording the device costs a first save at most 1 WCU more than the user index alone; a touch within touchAfter nothing', async () => {
    const req = {
      headers: { 'user-agent': `Mozilla/5.0 (X11; Linux x86_64) ${'AppleWebKit/537.36 '.repeat(4)}` },
      ip: '198.51.100.4',
    }
    const data = { user: 'ivy', notes: 'x'.repeat(700) }
    const writes = async (options, withRequest) => {
      const store = newStore({ touchAfter: 60_000, ...options })
      const sess = cookieSession(data, 3_600_000)
      if (withRequest) Object.defineProperty(sess, 'req', { value: req })
      const units = async (call) => {
        const before = store.stats().consumedCapacity.writeUnits
        await call()
        return store.stats().consumedCapacity.writeUnits - before
      }
      const used = {
        first: await units(() => store.set('c1', sess)),
        within: await units(() => store.touch('c1', later(sess, 1000))),
      }
      await store.close()
      return used
    }
    // The user index alone: the registry entry and the index's own write come with it, device or not.
    const indexed = await writes({ userPath: 'user' }, false)
    const devices = await writes({ userPath: 'user', sessionMetadata: () => ({ deviceName: 'Phone' }) }, true)
    expect(indexed.first).toBeGreaterThan(0)
    expect(devices.first - indexed.first).toBeLessThanOrEqual(1)
    expect(devices.within).toBe(0)
  })
})
