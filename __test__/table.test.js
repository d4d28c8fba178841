'use strict'

const { DescribeTableCommand } = require('@aws-sdk/client-dynamodb')
const { newStore, rawClient, describeTable, uniqueTable, cookieSession, connection } = require('./helpers')

const raw = rawClient()
afterAll(() => raw.destroy())

const tableExists = (name) =>
  describeTable(raw, name).then(
    () => true,
    (err) => (err.name === 'ResourceNotFoundException' ? false : Promise.reject(err)),
  )

test('construction is lazy: no table until the first call', async () => {
  const store = newStore()
  await new Promise((r) => setTimeout(r, 100))
  expect(await tableExists(store.table)).toBe(false)
  await store.get('x')
  expect(await tableExists(store.table)).toBe(true)
  await store.close()
})

test('creates the table as connect-dynamodb does: hash key only, provisioned 5/5', async () => {
  const store = newStore()
  await store.initialize()
  const table = await describeTable(raw, store.table)
  expect(table.TableStatus).toBe('ACTIVE')
  expect(table.KeySchema).toEqual([{ AttributeName: 'id', KeyType: 'HASH' }])
  expect(table.AttributeDefinitions).toEqual([{ AttributeName: 'id', AttributeType: 'S' }])
  expect(table.ProvisionedThroughput).toMatchObject({ ReadCapacityUnits: 5, WriteCapacityUnits: 5 })
  await store.close()
})

test('honours hashKey and the capacity options', async () => {
  const store = newStore({ hashKey: 'sid', readCapacityUnits: 3, writeCapacityUnits: '7' })
  await store.set('k', cookieSession({ n: 1 }))
  const table = await describeTable(raw, store.table)
  expect(table.KeySchema).toEqual([{ AttributeName: 'sid', KeyType: 'HASH' }])
  expect(table.ProvisionedThroughput).toMatchObject({ ReadCapacityUnits: 3, WriteCapacityUnits: 7 })
  expect((await store.get('k')).n).toBe(1)
  await store.close()
})

test('concurrent first calls share one initialization and all succeed', async () => {
  const table = uniqueTable()
  const stores = [newStore({ table }), newStore({ table })]
  const calls = []
  for (let i = 0; i < 20; i++) {
    const store = stores[i % 2]
    calls.push(store.set(`c${i}`, cookieSession({ i })).then(() => store.get(`c${i}`)))
  }
  const sessions = await Promise.all(calls)
  expect(sessions.map((s) => s.i)).toEqual([...Array(20).keys()])
  await Promise.all(stores.map((s) => s.close()))
})

test('initialized: true never describes or creates the table', async () => {
  const store = newStore({ initialized: true })
  await expect(store.initialize()).resolves.toBeUndefined()
  await expect(store.set('a', cookieSession())).rejects.toMatchObject({ code: 'ResourceNotFoundException' })
  // DescribeTable, not ListTables: one ListTables page holds only 100 names.
  await expect(raw.send(new DescribeTableCommand({ TableName: store.table }))).rejects.toMatchObject({
    name: 'ResourceNotFoundException',
  })
  await store.close()
})

test('a failed initialization is retried by the next call', async () => {
  const table = uniqueTable()
  const store = newStore({ table, initialized: true })
  await expect(store.get('a')).rejects.toMatchObject({ code: 'ResourceNotFoundException' })
  const creator = newStore({ table })
  await creator.initialize()
  await expect(store.get('a')).resolves.toBeNull()
  await Promise.all([store.close(), creator.close()])
})

test('a table whose TTL cannot be turned on (no UpdateTimeToLive permission) is created and works, with a warning', async () => {
  const http = require('node:http')
  const target = new URL(process.env.DYNAMODB_TEST_ENDPOINT)
  // DynamoDB Local behind a proxy that refuses UpdateTimeToLive, as IAM does without the permission.
  const proxy = http.createServer((req, res) => {
    if (req.headers['x-amz-target'] === 'DynamoDB_20120810.UpdateTimeToLive') {
      req.resume()
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' })
      return res.end(
        JSON.stringify({
          __type: 'com.amazon.coral.service#AccessDeniedException',
          message: 'User is not authorized to perform: dynamodb:UpdateTimeToLive',
        }),
      )
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers)
        answer.pipe(res)
      },
    )
    req.pipe(upstream)
  })
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  const logged = []
  const store = newStore({
    AWSConfigJSON: { ...connection(), endpoint: `http://127.0.0.1:${proxy.address().port}` },
    log: (message) => logged.push(message),
  })
  try {
    await store.initialize()
    await store.set('a', cookieSession({ n: 1 }))
    expect((await store.get('a')).n).toBe(1)
    expect(await tableExists(store.table)).toBe(true)
    expect(
      logged.filter((m) => m.startsWith('warn:') && /TTL could not be turned on.*AccessDenied/.test(m)),
    ).toHaveLength(1)
  } finally {
    await store.close()
    proxy.close()
  }
})
