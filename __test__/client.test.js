'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { DynamoDBClient, DescribeTableCommand } = require('@aws-sdk/client-dynamodb')
const { DynamoDBStore, endpoint, uniqueTable, cookieSession } = require('./helpers')

const jsClient = (credentials) => new DynamoDBClient({ endpoint: endpoint(), region: 'eu-west-1', credentials })

describe('the client option (AWS SDK v3 DynamoDBClient)', () => {
  test('is kept as store.client, and its endpoint and region are used', async () => {
    const client = jsClient({ accessKeyId: 'k', secretAccessKey: 's' })
    const store = new DynamoDBStore({ table: uniqueTable(), client })
    expect(store.client).toBe(client)
    await store.set('c', cookieSession({ via: 'client' }))
    expect((await store.get('c')).via).toBe('client')
    await store.close()
    client.destroy()
  })

  test('credentials are asked for again when they near expiry, and cached otherwise', async () => {
    let shortCalls = 0
    const short = jsClient(async () => {
      shortCalls += 1
      return { accessKeyId: 'k', secretAccessKey: 's', expiration: new Date(Date.now() + 2000) }
    })
    let longCalls = 0
    const long = jsClient(async () => {
      longCalls += 1
      return { accessKeyId: 'k', secretAccessKey: 's', expiration: new Date(Date.now() + 3_600_000) }
    })
    const table = uniqueTable()
    const stores = [new DynamoDBStore({ table, client: short }), new DynamoDBStore({ table, client: long })]
    for (const store of stores) {
      for (let i = 0; i < 4; i++) await store.get(`x${i}`)
    }
    expect(shortCalls).toBeGreaterThanOrEqual(4)
    expect(longCalls).toBe(1)
    await Promise.all(stores.map((s) => s.close()))
    short.destroy()
    long.destroy()
  })

  test('a failing credentials provider fails the call with ERR_CREDENTIALS', async () => {
    const client = jsClient(async () => {
      throw new Error('no credentials for you')
    })
    const store = new DynamoDBStore({ table: uniqueTable(), client })
    const err = await new Promise((resolve) => store.get('a', resolve))
    expect(err.code).toBe('ERR_CREDENTIALS')
    expect(err.message).toContain('no credentials for you')
    await store.close()
    client.destroy()
  })
})

test("credentials with a line break from the client's provider fail the call with ERR_CREDENTIALS, not a panic", async () => {
  const client = jsClient(async () => ({ accessKeyId: 'AKIA\nX-Injected: 1', secretAccessKey: 's' }))
  const store = new DynamoDBStore({ table: uniqueTable(), client })
  await expect(store.get('a')).rejects.toMatchObject({
    code: 'ERR_CREDENTIALS',
    message: expect.stringContaining('accessKeyId'),
  })
  await expect(store.set('a', cookieSession())).rejects.toMatchObject({ code: 'ERR_CREDENTIALS' })
  await store.close()
  client.destroy()
})

test('credentials with a line break from the default chain fail the call with ERR_CREDENTIALS', async () => {
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL_DYNAMODB: endpoint(),
    AWS_ACCESS_KEY_ID: 'AKIA\nX',
    AWS_SECRET_ACCESS_KEY: 's',
  }
  const fixture = path.join(__dirname, 'fixtures', 'env-chain.js')
  const { code, stdout, stderr } = await new Promise((resolve) =>
    execFile(process.execPath, [fixture, '--report-error'], { env, timeout: 30_000 }, (err, out, errOut) =>
      resolve({ code: err ? err.code : 0, stdout: out, stderr: errOut }),
    ),
  )
  expect(stderr).not.toMatch(/panic/i)
  expect(code).toBe(0)
  expect(JSON.parse(stdout)).toMatchObject({ code: 'ERR_CREDENTIALS' })
})

test('an AWS SDK v2-style client (config.getCredentials) is adopted too', async () => {
  let asked = 0
  const v2 = {
    endpoint: { href: `${endpoint()}/` },
    config: {
      region: 'us-west-2',
      endpoint: endpoint(),
      credentials: { accessKeyId: 'k', secretAccessKey: 's', sessionToken: null, expireTime: null },
      getCredentials(cb) {
        asked += 1
        cb(null)
      },
    },
  }
  const store = new DynamoDBStore({ table: uniqueTable(), client: v2 })
  await store.set('v2', cookieSession({ v: 2 }))
  expect((await store.get('v2')).v).toBe(2)
  expect(asked).toBeGreaterThanOrEqual(1)
  expect(store.client).toBe(v2)
  await store.close()
})

test('a v2-style client that calls back later without credentials fails the call, not the process', async () => {
  const v2 = {
    config: {
      region: 'us-west-2',
      endpoint: endpoint(),
      getCredentials(cb) {
        setImmediate(() => cb(null))
      },
    },
  }
  const store = new DynamoDBStore({ table: uniqueTable(), client: v2 })
  const err = await new Promise((resolve) => store.get('a', resolve))
  expect(err.code).toBe('ERR_CREDENTIALS')
  await store.close()
})

describe('connection options connect-dynamodb 3.x ignored', () => {
  test('AWSConfigPath: a JSON file of the v2 config', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cdrs-')), 'aws.json')
    fs.writeFileSync(
      file,
      JSON.stringify({ region: 'eu-north-1', endpoint: endpoint(), accessKeyId: 'k', secretAccessKey: 's' }),
    )
    const store = new DynamoDBStore({ table: uniqueTable(), AWSConfigPath: file })
    await store.set('p', cookieSession({ via: 'path' }))
    expect((await store.get('p')).via).toBe('path')
    expect(await store.client.config.region()).toBe('eu-north-1')
    await store.close()
  })

  test('AWSRegion sets the region; AWSConfigJSON.region wins over it', async () => {
    const base = { endpoint: endpoint(), accessKeyId: 'k', secretAccessKey: 's' }
    const a = new DynamoDBStore({ AWSConfigJSON: base, AWSRegion: 'ap-south-1' })
    const b = new DynamoDBStore({ AWSConfigJSON: { ...base, region: 'sa-east-1' }, AWSRegion: 'ap-south-1' })
    expect(await a.client.config.region()).toBe('ap-south-1')
    expect(await b.client.config.region()).toBe('sa-east-1')
    await Promise.all([a.close(), b.close()])
  })

  test('without a client, store.client is a DynamoDBClient for the same endpoint', async () => {
    const table = uniqueTable()
    const store = new DynamoDBStore({
      table,
      AWSConfigJSON: { endpoint: endpoint(), region: 'us-east-1', accessKeyId: 'k', secretAccessKey: 's' },
    })
    await store.initialize()
    expect(store.client).toBeInstanceOf(DynamoDBClient)
    // DescribeTable, not ListTables: a page of ListTables holds 100 names, fewer than a full run makes.
    const { Table } = await store.client.send(new DescribeTableCommand({ TableName: table }))
    expect(Table.TableName).toBe(table)
    await store.close()
  })
})

test('with no connection options, the AWS default chain is used (AWS_ENDPOINT_URL_DYNAMODB)', async () => {
  const env = { ...process.env, AWS_ENDPOINT_URL_DYNAMODB: endpoint() }
  const fixture = path.join(__dirname, 'fixtures', 'env-chain.js')
  const stdout = await new Promise((resolve, reject) =>
    execFile(process.execPath, [fixture], { env, timeout: 30_000 }, (err, out, stderr) =>
      err ? reject(new Error(stderr || err.message)) : resolve(out),
    ),
  )
  expect(JSON.parse(stdout)).toMatchObject({ via: 'env' })
})
