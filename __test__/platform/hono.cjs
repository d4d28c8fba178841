'use strict'

// connect-dynamodb-rs/hono with Hono's two session middlewares, hono-sessions
// and @hono/session, against DynamoDB Local: the suite runs under Node.js
// (__test__/hono.test.js), Bun and Deno (npm run test:runtimes). Requests go
// through app.request(), and once through hono/aws-lambda's handler fed API
// Gateway events.
//
// Environment: DYNAMODB_TEST_ENDPOINT (DynamoDB Local).

const assert = require('node:assert/strict')
const path = require('node:path')
const { Hono } = require('hono')
const { sessionMiddleware } = require('hono-sessions')
const { useSession } = require('@hono/session')
const { handle } = require('hono/aws-lambda')
const { DynamoDBClient, GetItemCommand } = require('@aws-sdk/client-dynamodb')
const { check, runChecks } = require('./harness.cjs')

const root = path.join(__dirname, '..', '..')
const { DynamoDBHonoStore, DynamoDBSessionStorage } = require(path.join(root, 'hono'))
const { runtime } = require(path.join(root, 'lib', 'runtime'))
const { dynamoDBFront } = require(path.join(__dirname, '..', 'fixtures', 'dynamodb-front'))

const endpoint = process.env.DYNAMODB_TEST_ENDPOINT
const connection = { endpoint, region: 'us-east-1', accessKeyId: 'hono', secretAccessKey: 'hono' }
const raw = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: connection })
const label = `${runtime()}-${process.pid}-${Date.now().toString(36)}`
let tables = 0
const closing = []
const table = () => `hono-${label}-${tables++}`
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** The item as DynamoDB holds it. */
const item = async (store, sid) =>
  (await raw.send(new GetItemCommand({ TableName: store.store.table, Key: { id: { S: `sess:${sid}` } } }))).Item

/** A stand-in for DynamoDB that refuses every PutItem, before DynamoDB Local. */
const refusingPuts = () =>
  dynamoDBFront(endpoint, (operation) =>
    operation === 'PutItem' ? { status: 400, type: 'ValidationException', message: 'refused' } : null,
  )

/** Hono's errors as JSON with their code (409 for a save refused under versioning). */
function withErrors(app) {
  app.onError((err, c) => c.json({ code: err.code }, err.code === 'ERR_SESSION_CONFLICT' ? 409 : 500))
  return app
}

/** One browser: a cookie jar over app.request(). */
function browser(app) {
  let cookie = ''
  return {
    async get(url, method = 'GET') {
      const res = await app.request(url, { method, headers: cookie ? { cookie } : {} })
      const set = res.headers.get('set-cookie')
      if (set) cookie = set.split(';')[0]
      return { status: res.status, body: await res.json() }
    },
    cookie: () => cookie,
    sid: () => decodeURIComponent(cookie.split('=')[1] || ''),
  }
}

/** Requests that wait, after their session was read, until the test opens their gate: `?wait=name`. */
const gates = new Map()
const gate = (name) => {
  let open
  gates.set(name, new Promise((resolve) => (open = resolve)))
  return open
}
const waitFor = (c) => gates.get(c.req.query('wait')) || Promise.resolve()

/** A Hono app with hono-sessions on a DynamoDB store. */
function honoSessionsApp(storeOptions = {}, middlewareOptions = {}) {
  const store = new DynamoDBHonoStore({ table: table(), AWSConfigJSON: connection, ...storeOptions })
  closing.push(store)
  const app = withErrors(new Hono())
  app.use('*', sessionMiddleware({ store, expireAfterSeconds: 60, sessionCookieName: 'sid', ...middlewareOptions }))
  app.get('/count', (c) => {
    const s = c.get('session')
    s.set('count', (s.get('count') || 0) + 1)
    return c.json({ count: s.get('count') })
  })
  app.get('/peek', (c) => c.json({ count: c.get('session').get('count') }))
  app.get('/flash', (c) => {
    c.get('session').flash('notice', 'saved')
    return c.json({})
  })
  app.get('/notice', (c) => c.json({ notice: c.get('session').get('notice') }))
  app.get('/logout', (c) => {
    c.get('session').deleteSession()
    return c.json({})
  })
  app.get('/set/:key/:value', async (c) => {
    await waitFor(c)
    c.get('session').set(c.req.param('key'), c.req.param('value'))
    return c.json({})
  })
  app.get('/forget/:key', async (c) => {
    await waitFor(c)
    c.get('session').forget(c.req.param('key'))
    return c.json({})
  })
  app.get('/get/:key', async (c) => {
    await waitFor(c)
    return c.json({ value: c.get('session').get(c.req.param('key')) })
  })
  return { app, store }
}

/** A Hono app with @hono/session on DynamoDB storage, through its middleware. */
function honoSessionApp(storageOptions = {}) {
  const storage = new DynamoDBSessionStorage({
    table: table(),
    AWSConfigJSON: connection,
    maxAge: 60_000,
    ...storageOptions,
  })
  closing.push(storage)
  const app = withErrors(new Hono())
  app.use('*', storage.middleware(), useSession({ secret: 'a'.repeat(64) }))
  app.get('/count', async (c) => {
    const count = (((await c.var.session.get()) || {}).count || 0) + 1
    await c.var.session.update((data) => ({ ...data, count }))
    return c.json({ count })
  })
  app.get('/peek', async (c) => c.json({ count: ((await c.var.session.get()) || {}).count ?? null }))
  app.get('/logout', async (c) => {
    await c.var.session.get()
    c.var.session.delete()
    return c.json({})
  })
  return { app, storage }
}

/** What a run of requests cost: full writes, touches sent, touches skipped. */
function costs(store, run) {
  const before = store.stats()
  return run().then(() => {
    const after = store.stats()
    return {
      sets: after.operations.set - before.operations.set,
      touches: after.operations.touch - before.operations.touch,
      skipped: after.skippedWrites - before.skippedWrites,
    }
  })
}

check('hono-sessions: a session is kept across requests; its item expires with it', async () => {
  const { app, store } = honoSessionsApp()
  const client = browser(app)
  for (const count of [1, 2, 3]) assert.equal((await client.get('/count')).body.count, count)
  const stored = await item(store, client.sid())
  assert.equal(JSON.parse(stored.sess.S).count, 3)
  assert.ok(Math.abs(Number(stored.expires.N) - (Date.now() + 60_000) / 1000) < 5)
})

check('hono-sessions: flash values live one read', async () => {
  const client = browser(honoSessionsApp().app)
  await client.get('/flash')
  assert.equal((await client.get('/notice')).body.notice, 'saved')
  assert.equal((await client.get('/notice')).body.notice, null)
})

check('hono-sessions: logging out destroys the item; the old cookie reads nothing', async () => {
  const { app, store } = honoSessionsApp()
  const client = browser(app)
  await client.get('/count')
  const [sid, cookie] = [client.sid(), client.cookie()]
  await client.get('/logout')
  assert.equal((await item(store, sid)).sess, undefined)
  assert.equal((await (await app.request('/peek', { headers: { cookie } })).json()).count, null)
})

check('hono-sessions: a short expiry ends the session to the millisecond; the item expires with it', async () => {
  const { app, store } = honoSessionsApp({}, { expireAfterSeconds: 1, autoExtendExpiration: false })
  const client = browser(app)
  await client.get('/count')
  const expire = Date.parse((await store.getSessionById(client.sid()))._expire)
  assert.ok(expire - Date.now() <= 1000)
  assert.equal(Number((await item(store, client.sid())).expires.N), Math.ceil(expire / 1000))
  await delay(expire - Date.now() + 20)
  assert.equal(await store.getSessionById(client.sid()), null)
  assert.equal((await client.get('/count')).body.count, 1)
})

check(
  'hono-sessions: a new session is one write; an unchanged one a touch; touchAfter skips those it covers',
  async () => {
    for (const touchAfter of [0, 60_000]) {
      const { app, store } = honoSessionsApp({ touchAfter })
      const client = browser(app)
      assert.deepEqual(await costs(store.store, () => client.get('/count')), { sets: 1, touches: 0, skipped: 0 })
      const peeks = async () => {
        for (let i = 0; i < 3; i++) assert.equal((await client.get('/peek')).body.count, 1)
      }
      assert.deepEqual(await costs(store.store, peeks), {
        sets: 0,
        touches: touchAfter ? 0 : 3,
        skipped: touchAfter ? 3 : 0,
      })
    }
  },
)

check("hono-sessions: a DynamoDB error reaches Hono's error handling with its code", async () => {
  const front = await refusingPuts()
  try {
    const { app, store } = honoSessionsApp({ AWSConfigJSON: { ...connection, endpoint: front.endpoint } })
    await store.store.initialize()
    const res = await app.request('/count')
    assert.deepEqual([res.status, await res.json()], [500, { code: 'ValidationException' }])
  } finally {
    await front.close()
  }
})

check('hono-sessions: 50 requests at once on one session, versioning on: every lost update is reported', async () => {
  const { app } = honoSessionsApp({ versioning: true })
  const client = browser(app)
  await client.get('/count')
  const headers = { cookie: client.cookie() }
  const statuses = (await Promise.all(Array.from({ length: 50 }, () => app.request('/count', { headers })))).map(
    (res) => res.status,
  )
  const saved = statuses.filter((status) => status === 200).length
  assert.equal(saved + statuses.filter((status) => status === 409).length, 50)
  assert.ok(saved > 0)
  // Each save that went through added one to what it read, and no two read the same count.
  assert.equal((await client.get('/peek')).body.count, 1 + saved)
})

check('hono-sessions: a change made while another request of the session saves is not lost (a logout)', async () => {
  const { app } = honoSessionsApp()
  const client = browser(app)
  await client.get('/set/user/alice')
  const headers = { cookie: client.cookie() }
  const open = gate('logout')
  const logout = app.request('/forget/user?wait=logout', { headers })
  await delay(50)
  // Another request of the same session reads and saves (a touch) while the logout waits.
  assert.equal((await (await app.request('/get/user', { headers })).json()).value, 'alice')
  open()
  assert.equal((await logout).status, 200)
  assert.equal((await client.get('/get/user')).body.value, null)
})

check(
  'hono-sessions: under versioning a stale save is refused, and a request that changed nothing is not',
  async () => {
    const { app } = honoSessionsApp({ versioning: true })
    const client = browser(app)
    await client.get('/set/cart/empty')
    const headers = { cookie: client.cookie() }
    // S reads, then waits; B saves a change; R reads that, then waits; S saves; R saves (unchanged).
    const openStale = gate('stale')
    const stale = app.request('/set/cart/A?wait=stale', { headers })
    await delay(50)
    assert.equal((await app.request('/set/cart/B', { headers })).status, 200)
    const openReader = gate('reader')
    const reader = app.request('/get/cart?wait=reader', { headers })
    await delay(50)
    openStale()
    const refused = await stale
    assert.deepEqual([refused.status, await refused.json()], [409, { code: 'ERR_SESSION_CONFLICT' }])
    openReader()
    assert.equal((await reader).status, 200)
    assert.equal((await client.get('/get/cart')).body.value, 'B')
  },
)

check(
  "hono-sessions: fields named like the store's own (_flash, _accessed, cookie) are kept or refused, never lost",
  async () => {
    const { app } = honoSessionsApp()
    const client = browser(app)
    for (const key of ['_flash', '_accessed', 'user']) await client.get(`/set/${key}/${key}-value`)
    for (let read = 0; read < 2; read++) {
      for (const key of ['_flash', '_accessed', 'user']) {
        assert.equal((await client.get(`/get/${key}`)).body.value, `${key}-value`, key)
      }
    }
    const res = await client.get('/set/cookie/chocolate')
    assert.deepEqual([res.status, res.body], [500, { code: 'ERR_INVALID_ARGUMENT' }])
  },
)

check("hono-sessions: an Express app's session is the Hono app's, and back", async () => {
  const { app, store } = honoSessionsApp()
  await store.store.set('shared-sid', {
    count: 4,
    cookie: {
      originalMaxAge: 60_000,
      expires: new Date(Date.now() + 60_000).toISOString(),
      sameSite: 'strict',
      secure: true,
    },
  })
  const res = await app.request('/count', { headers: { cookie: 'sid=shared-sid' } })
  assert.equal((await res.json()).count, 5)
  const back = await store.store.get('shared-sid')
  assert.equal(back.count, 5)
  assert.equal(typeof back.cookie.expires, 'string')
  // The cookie Express wrote keeps its flags.
  assert.deepEqual([back.cookie.sameSite, back.cookie.secure], ['strict', true])
})

check('hono-sessions: as a Lambda handler (hono/aws-lambda) fed API Gateway events, a session is kept', async () => {
  const handler = handle(honoSessionsApp().app)
  const event = (cookie) => ({
    version: '2.0',
    routeKey: '$default',
    rawPath: '/count',
    rawQueryString: '',
    headers: { host: 'example.test', ...(cookie ? { cookie } : {}) },
    ...(cookie ? { cookies: [cookie] } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'example.test',
      domainPrefix: 'example',
      http: { method: 'GET', path: '/count', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: 'id',
      routeKey: '$default',
      stage: '$default',
      time: '07/Dec/2026:00:00:00 +0000',
      timeEpoch: Date.now(),
    },
    isBase64Encoded: false,
  })
  const first = await handler(event())
  assert.equal(JSON.parse(first.body).count, 1)
  const second = await handler(event(first.cookies[0].split(';')[0]))
  assert.equal(JSON.parse(second.body).count, 2)
})

check('@hono/session: a session is kept across requests; reading costs no write; logout destroys it', async () => {
  const { app, storage } = honoSessionApp()
  const client = browser(app)
  for (const count of [1, 2, 3]) assert.equal((await client.get('/count')).body.count, count)
  assert.deepEqual(await costs(storage.store, () => client.get('/peek')), { sets: 0, touches: 0, skipped: 0 })
  const cookie = client.cookie()
  await client.get('/logout')
  assert.equal((await (await app.request('/peek', { headers: { cookie } })).json()).count, null)
})

check('@hono/session: a maxAge past what a date can hold is refused when the storage is made', () => {
  for (const maxAge of [1e300, -1, 0, 1.5, Number.NaN]) {
    assert.throws(
      () => new DynamoDBSessionStorage({ table: table(), AWSConfigJSON: connection, maxAge }),
      (err) => err.code === 'ERR_INVALID_OPTION' && /maxAge/.test(err.message),
    )
  }
})

check('@hono/session: a session lives maxAge after its last write', async () => {
  const client = browser(honoSessionApp({ maxAge: 300 }).app)
  await client.get('/count')
  assert.equal((await client.get('/peek')).body.count, 1)
  await delay(350)
  assert.equal((await client.get('/peek')).body.count, null)
})

check(
  "@hono/session: a write it does not wait for still reaches Hono's error handling, through middleware()",
  async () => {
    const front = await refusingPuts()
    try {
      const { app, storage } = honoSessionApp({ AWSConfigJSON: { ...connection, endpoint: front.endpoint } })
      await storage.store.initialize()
      const res = await app.request('/count')
      assert.deepEqual([res.status, await res.json()], [500, { code: 'ValidationException' }])
    } finally {
      await front.close()
    }
  },
)

check(
  '@hono/session: used bare, a failed write goes to "error" listeners, else to the log, never nowhere',
  async () => {
    const front = await refusingPuts()
    try {
      const logged = []
      const storage = new DynamoDBSessionStorage({
        table: table(),
        AWSConfigJSON: { ...connection, endpoint: front.endpoint },
        log: (line) => logged.push(line),
      })
      closing.push(storage)
      await storage.store.initialize()
      storage.set('bare-sid', { count: 1 })
      await delay(300)
      assert.match(logged.join('\n'), /^warn: .*session save failed .*ValidationException/m)
      assert.doesNotMatch(logged.join('\n'), /bare-sid/)
      const errors = []
      storage.store.on('error', (err) => errors.push([err.operation, err.code]))
      storage.set('bare-sid', { count: 1 })
      await delay(300)
      assert.deepEqual(errors, [['save', 'ValidationException']])
    } finally {
      await front.close()
    }
  },
)

check('examples/hono.js: visits are counted; an unchanged session within touchAfter writes nothing', async () => {
  const { createApp } = require(path.join(root, 'examples', 'hono'))
  const store = new DynamoDBHonoStore({ table: table(), AWSConfigJSON: connection, touchAfter: 60_000 })
  closing.push(store)
  const client = browser(createApp(store))
  const post = async () => (await client.get('/visit', 'POST')).body.visits
  assert.equal((await client.get('/')).body.visits, 0)
  assert.equal(await post(), 1)
  assert.equal(await post(), 2)
  assert.equal((await client.get('/')).body.visits, 2)
  const stats = (await client.get('/stats')).body
  assert.deepEqual([stats.operations.set, stats.skippedWrites], [2, 1])
})

runChecks(`hono on ${runtime()}`, async () => {
  await Promise.all(closing.map((store) => store.close().catch(() => {})))
  raw.destroy()
})
