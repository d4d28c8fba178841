'use strict'

// connect-dynamodb 3.0.5 left four helpers public (and typed): an app that
// calls them keeps working after the switch. Each is checked against what
// connect-dynamodb itself answers for the same table or item.
const ConnectDynamoDB = require('connect-dynamodb')
const {
  session,
  newStore,
  rawClient,
  uniqueTable,
  connection,
  DynamoDBStore,
  cookieSession,
  viaCallback,
  nowSeconds,
} = require('./helpers')

const raw = rawClient()
const Theirs = ConnectDynamoDB(session)
afterAll(() => raw.destroy())

describe('describeSessionsTable() and createSessionsTable()', () => {
  test('describe resolves what connect-dynamodb resolves: DescribeTable output with Dates', async () => {
    const ours = newStore()
    await ours.initialize()
    const theirs = new Theirs({ table: ours.table, client: raw })
    const [a, b] = await Promise.all([ours.describeSessionsTable(), theirs.describeSessionsTable()])
    expect(a.Table.TableName).toBe(ours.table)
    expect(a.Table.TableStatus).toBe('ACTIVE')
    expect(a.Table.KeySchema).toEqual([{ AttributeName: 'id', KeyType: 'HASH' }])
    expect(a.Table.CreationDateTime).toBeInstanceOf(Date)
    expect(a.Table).toEqual(b.Table)
    await ours.close()
  })

  test('describe of a missing table rejects with ResourceNotFoundException and creates nothing', async () => {
    const ours = newStore()
    const err = await ours.describeSessionsTable().catch((e) => e)
    expect(err.code).toBe('ResourceNotFoundException')
    const again = await ours.describeSessionsTable().catch((e) => e)
    expect(again.code).toBe('ResourceNotFoundException')
    await ours.close()
  })

  test('create makes the table initialize() would (hash key, capacity, TTL); with a callback too', async () => {
    const ours = newStore({ hashKey: 'sid', readCapacityUnits: 3, writeCapacityUnits: 4 })
    const { args } = await viaCallback((cb) => ours.createSessionsTable(cb))
    expect(args).toEqual([null, undefined])
    const { Table } = await ours.describeSessionsTable()
    expect(Table.KeySchema).toEqual([{ AttributeName: 'sid', KeyType: 'HASH' }])
    expect(Table.ProvisionedThroughput).toMatchObject({ ReadCapacityUnits: 3, WriteCapacityUnits: 4 })
    const { DescribeTimeToLiveCommand } = require('@aws-sdk/client-dynamodb')
    const ttl = await raw.send(new DescribeTimeToLiveCommand({ TableName: ours.table }))
    expect(ttl.TimeToLiveDescription).toMatchObject({ AttributeName: 'expires', TimeToLiveStatus: 'ENABLED' })
    // An existing table is left as it is.
    await ours.createSessionsTable()
    await ours.set('after-create', cookieSession({ n: 1 }))
    expect((await ours.get('after-create')).n).toBe(1)
    await ours.close()
  })

  test('describe reports errors to its callback with a code', async () => {
    const ours = new DynamoDBStore({ table: uniqueTable(), AWSConfigJSON: connection() })
    const { args } = await viaCallback((cb) => ours.describeSessionsTable(cb))
    expect(args[0].code).toBe('ResourceNotFoundException')
    await ours.close()
  })
})

describe('getParsedSession(output)', () => {
  const ours = newStore()
  const theirs = new Theirs({ table: ours.table, client: raw })
  const future = String(nowSeconds() + 3600)
  const item = (sess, expires = future) => ({ Item: { id: { S: 'sess:x' }, sess, expires: { N: expires } } })
  afterAll(() => ours.close())

  test('a live item gives its session, as connect-dynamodb parses it', () => {
    const output = item({ S: JSON.stringify({ cookie: {}, user: 'ann', n: 2 }) })
    expect(ours.getParsedSession(output)).toEqual({ cookie: {}, user: 'ann', n: 2 })
    expect(ours.getParsedSession(output)).toEqual(theirs.getParsedSession(output))
  })

  test('missing, expired, destroyed, damaged or odd input gives null and never throws', () => {
    const cases = [
      {},
      { Item: undefined },
      item({ S: '{"a":1}' }, String(nowSeconds() - 1)),
      { Item: { id: { S: 'sess:x' }, expires: { N: future }, destroyed: { N: '1' } } },
      item({ S: 'not json' }),
      item({ N: '12' }),
      item({ B: new Uint8Array([0x7f, 1, 2]) }),
      { Item: { sess: 'not an attribute value' } },
      { Item: 42 },
    ]
    for (const output of cases) {
      expect(ours.getParsedSession(output)).toBeNull()
      expect(theirs.getParsedSession(output)).toBeNull()
    }
    for (const odd of [undefined, null, 'x', 7, { Item: { sess: { S: '{}' }, expires: { N: 'soon' } } }]) {
      expect(() => ours.getParsedSession(odd)).not.toThrow()
    }
  })

  test('reads what this store wrote, compressed and encrypted sessions included', async () => {
    const key = Buffer.alloc(32, 7).toString('base64')
    const sealed = newStore({ compress: { minBytes: 0 }, encryption: { keys: { k: key }, primaryKeyId: 'k' } })
    const sess = cookieSession({ cart: 'x'.repeat(2000) })
    await sealed.set('sealed', sess)
    const { GetItemCommand } = require('@aws-sdk/client-dynamodb')
    const output = await raw.send(new GetItemCommand({ TableName: sealed.table, Key: { id: { S: 'sess:sealed' } } }))
    expect(output.Item.sess.B).toBeInstanceOf(Uint8Array)
    expect(sealed.getParsedSession(output)).toEqual(JSON.parse(JSON.stringify(sess)))
    // Another key cannot open it: null, not an exception.
    const other = newStore({ encryption: { keys: { k: Buffer.alloc(32, 9).toString('base64') }, primaryKeyId: 'k' } })
    expect(other.getParsedSession(output)).toBeNull()
    await Promise.all([sealed.close(), other.close()])
  })

  test('with a callback, the result also goes to it on a later tick', async () => {
    const { args, sync } = await viaCallback((cb) => ours.getParsedSession(item({ S: '{"n":1}' }), cb))
    expect(args).toEqual([null, { n: 1 }])
    expect(sync).toBe(false)
  })
})

describe('getExpiresValue(sess)', () => {
  const ours = newStore()
  afterAll(() => ours.close())

  test('returns the expires a save writes: the cookie expiry, rounded up to the second', async () => {
    const sess = cookieSession({}, 120_000)
    const expected = Math.ceil(Date.parse(sess.cookie.expires) / 1000)
    expect(ours.getExpiresValue(sess)).toBe(expected)
    await ours.set('expires-value', sess)
    const { GetItemCommand } = require('@aws-sdk/client-dynamodb')
    const { Item } = await raw.send(
      new GetItemCommand({ TableName: ours.table, Key: { id: { S: 'sess:expires-value' } } }),
    )
    expect(Number(Item.expires.N)).toBe(expected)
  })

  test('falls back to maxAge, then to ttl (one day by default, or the ttl option)', () => {
    const now = nowSeconds()
    expect(ours.getExpiresValue({ cookie: { maxAge: 60_000 } }) - now).toBeGreaterThanOrEqual(60)
    expect(ours.getExpiresValue({ cookie: { maxAge: 60_000 } }) - now).toBeLessThanOrEqual(62)
    expect(ours.getExpiresValue({}) - now).toBeGreaterThanOrEqual(86_400)
    expect(ours.getExpiresValue(undefined) - now).toBeLessThanOrEqual(86_402)
    const hourly = newStore({ ttl: () => 3_600_000 })
    expect(hourly.getExpiresValue({}) - now).toBeGreaterThanOrEqual(3600)
    expect(hourly.getExpiresValue({}) - now).toBeLessThanOrEqual(3602)
    return hourly.close()
  })

  test('a bad ttl answer is an ERR_INVALID_OPTION, thrown or given to the callback', async () => {
    const bad = newStore({ ttl: () => -1 })
    expect(() => bad.getExpiresValue({})).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }))
    const { args } = await viaCallback((cb) => bad.getExpiresValue({}, cb))
    expect(args[0].code).toBe('ERR_INVALID_OPTION')
    await bad.close()
  })
})
