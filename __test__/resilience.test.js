'use strict'

// Real faults between the store and DynamoDB Local: the fault proxy returns
// DynamoDB's throttling error, stalls, drops connections mid-response, or
// resets every connection (an outage).
const express = require('express')
const request = require('supertest')
const { session, newStore, connection, rawClient, rawItem, cookieSession } = require('./helpers')
const { startFaultProxy } = require('../support/fault-proxy')

const raw = rawClient()
let proxy
beforeAll(async () => {
  proxy = await startFaultProxy(process.env.DYNAMODB_TEST_ENDPOINT)
})
beforeEach(() => proxy.reset())
afterAll(async () => {
  await proxy.stop()
  raw.destroy()
})

/** A store whose every call goes through the proxy; its table exists before faults begin. */
async function storeBehindProxy(options = {}) {
  const store = newStore({ AWSConfigJSON: { ...connection(), endpoint: proxy.endpoint }, ...options })
  await store.initialize()
  proxy.reset()
  return store
}

const elapsed = async (promise) => {
  const started = Date.now()
  const outcome = await promise.then(
    (value) => ({ value }),
    (error) => ({ error }),
  )
  return { ...outcome, ms: Date.now() - started }
}

describe('retries', () => {
  test('throttling is retried, and the call succeeds', async () => {
    const store = await storeBehindProxy()
    await store.set('r1', cookieSession({ n: 1 }))
    proxy.fault = { kind: 'throttle', times: 2, only: 'GetItem' }
    expect(await store.get('r1')).toMatchObject({ n: 1 })
    expect(proxy.count('GetItem')).toBe(3)
    expect(store.stats().retries).toBe(2)
    await store.close()
  })

  test('a connection dropped mid-response is retried, and the write lands', async () => {
    const store = await storeBehindProxy()
    proxy.fault = { kind: 'drop', times: 1, only: 'PutItem' }
    await store.set('r2', cookieSession({ n: 2 }))
    expect(proxy.count('PutItem')).toBe(2)
    expect(JSON.parse((await rawItem(raw, store.table, 'sess:r2')).sess.S).n).toBe(2)
    await store.close()
  })

  test("maxRetries bounds the attempts; the caller gets DynamoDB's error code", async () => {
    const store = await storeBehindProxy({ maxRetries: 1 })
    proxy.fault = { kind: 'throttle', only: 'GetItem' }
    const { error } = await elapsed(store.get('r3'))
    expect(error.code).toBe('ProvisionedThroughputExceededException')
    expect(proxy.count('GetItem')).toBe(2)
    await store.close()
  })

  test('errors that retrying cannot fix are sent once', async () => {
    const store = await storeBehindProxy()
    // A failed condition (touch of a missing session) is an answer, not a fault.
    expect(await store.touch('missing', cookieSession())).toBeNull()
    expect(proxy.count('UpdateItem')).toBe(1)

    const noTable = newStore({ AWSConfigJSON: { ...connection(), endpoint: proxy.endpoint }, initialized: true })
    const { error } = await elapsed(noTable.get('x'))
    expect(error.code).toBe('ResourceNotFoundException')
    expect(proxy.count('GetItem')).toBe(1)
    expect(store.stats().retries + noTable.stats().retries).toBe(0)
    await Promise.all([store.close(), noTable.close()])
  })
})

describe('timeout', () => {
  test('a stalled DynamoDB fails the call with ERR_TIMEOUT after about `timeout` ms, never a hang', async () => {
    const store = await storeBehindProxy({ timeout: 600 })
    proxy.fault = { kind: 'latency', ms: 10_000 }
    const { error, ms } = await elapsed(store.get('t1'))
    expect(error.code).toBe('ERR_TIMEOUT')
    expect(ms).toBeGreaterThanOrEqual(550)
    expect(ms).toBeLessThan(1500)
    await store.close()
  })

  test('by default a call gives up within about two seconds', async () => {
    const store = await storeBehindProxy({ circuitBreaker: false })
    proxy.fault = { kind: 'latency', ms: 10_000 }
    const { error, ms } = await elapsed(store.set('t2', cookieSession()))
    expect(error.code).toBe('ERR_TIMEOUT')
    expect(ms).toBeGreaterThanOrEqual(1900)
    expect(ms).toBeLessThan(3500)
    // The first attempt timed out at half the budget and was retried.
    expect(proxy.count('PutItem')).toBeGreaterThanOrEqual(2)
    await store.close()
  })

  test('a slow answer within the timeout is not cut off', async () => {
    const store = await storeBehindProxy({ timeout: 2000 })
    await store.set('t3', cookieSession({ n: 3 }))
    proxy.fault = { kind: 'latency', ms: 300 }
    expect(await store.get('t3')).toMatchObject({ n: 3 })
    expect(proxy.count('GetItem')).toBe(1)
    await store.close()
  })
})

describe('circuit breaker', () => {
  const outageOptions = { timeout: 500, circuitBreaker: { failures: 3, probeInterval: 100 } }

  test("after repeated outage errors: 'disconnect', calls fail fast, probes, then 'connect'", async () => {
    const store = await storeBehindProxy(outageOptions)
    await store.set('b1', cookieSession({ n: 1 }))
    const events = []
    store.on('disconnect', () => events.push('disconnect'))
    const connected = new Promise((resolve) => store.on('connect', () => resolve(events.push('connect'))))

    proxy.fault = { kind: 'down' }
    for (let i = 0; i < 3; i++) {
      const { error } = await elapsed(store.get('b1'))
      expect(['ERR_NETWORK', 'ERR_TIMEOUT']).toContain(error.code)
    }
    expect(events).toEqual(['disconnect'])

    const sentBefore = proxy.count('GetItem')
    const fast = await elapsed(store.get('b1'))
    expect(fast.error.code).toBe('ERR_STORE_UNAVAILABLE')
    expect(fast.ms).toBeLessThan(50)
    // Only the probe talks to DynamoDB now, once per probeInterval.
    await new Promise((resolve) => setTimeout(resolve, 350))
    expect(proxy.count('GetItem') - sentBefore).toBeLessThanOrEqual(4)

    proxy.fault = null
    await connected
    expect(events).toEqual(['disconnect', 'connect'])
    expect(await store.get('b1')).toMatchObject({ n: 1 })
    await store.close()
  })

  test('closing the store stops the probe', async () => {
    const store = await storeBehindProxy(outageOptions)
    const disconnected = new Promise((resolve) => store.once('disconnect', resolve))
    proxy.fault = { kind: 'down' }
    for (let i = 0; i < 3; i++) await expect(store.get('b3')).rejects.toBeInstanceOf(Error)
    await disconnected
    await store.close()
    await new Promise((resolve) => setTimeout(resolve, 150))
    const sent = proxy.count('GetItem')
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect(proxy.count('GetItem')).toBe(sent)
  })

  test('errors that are answers (a missing table) never open it', async () => {
    const store = newStore({
      AWSConfigJSON: { ...connection(), endpoint: proxy.endpoint },
      initialized: true,
      circuitBreaker: { failures: 2 },
    })
    const events = []
    store.on('disconnect', () => events.push('disconnect'))
    for (let i = 0; i < 4; i++)
      await expect(store.get('x')).rejects.toMatchObject({ code: 'ResourceNotFoundException' })
    expect(events).toEqual([])
    await store.close()
  })

  test('circuitBreaker: false keeps sending every call', async () => {
    const store = await storeBehindProxy({ timeout: 300, circuitBreaker: false })
    proxy.fault = { kind: 'down' }
    for (let i = 0; i < 7; i++)
      await expect(store.get('b2')).rejects.toMatchObject({ code: expect.stringMatching(/ERR_NETWORK|ERR_TIMEOUT/) })
    proxy.fault = null
    expect(await store.get('b2')).toBeNull()
    await store.close()
  })

  test('express-session serves requests without a session while disconnected, and with sessions again after', async () => {
    const store = await storeBehindProxy(outageOptions)
    const app = express()
    app.use(session({ store, secret: 'breaker', resave: false, saveUninitialized: false }))
    app.get('/', (req, res) => {
      if (req.session) req.session.views = (req.session.views || 0) + 1
      res.json({ session: Boolean(req.session), views: req.session ? req.session.views : null })
    })
    const agent = request.agent(app)
    expect((await agent.get('/')).body).toEqual({ session: true, views: 1 })

    const connected = new Promise((resolve) => store.once('connect', resolve))
    proxy.fault = { kind: 'down' }
    // The first requests fail (the outage is not known yet); once the circuit opens they are served without a session.
    let served
    for (let i = 0; i < 10 && !(served && served.status === 200); i++) served = await agent.get('/')
    expect(served.status).toBe(200)
    expect(served.body).toEqual({ session: false, views: null })

    proxy.fault = null
    await connected
    expect((await agent.get('/')).body).toEqual({ session: true, views: 2 })
    await store.close()
  })
})

describe('a destroyed session stays destroyed', () => {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

  test('a save in flight when destroy ran does not bring the session back', async () => {
    const slow = await storeBehindProxy()
    const direct = newStore({ table: slow.table })
    await direct.set('d1', cookieSession({ user: 'ann' }))
    // The save leaves first but reaches DynamoDB after the logout.
    proxy.fault = { kind: 'latency', ms: 400, only: 'PutItem', times: 1 }
    const save = slow.set('d1', cookieSession({ user: 'ann', cart: ['late'] }))
    await sleep(100)
    await direct.destroy('d1')
    await expect(save).resolves.toBeUndefined()
    expect(proxy.count('PutItem')).toBe(1)
    expect(await direct.get('d1')).toBeNull()
    expect(await slow.get('d1')).toBeNull()
    expect((await rawItem(raw, slow.table, 'sess:d1')).sess).toBeUndefined()
    await Promise.all([slow.close(), direct.close()])
  })

  test('a touch in flight when destroy ran does not either', async () => {
    const slow = await storeBehindProxy()
    const direct = newStore({ table: slow.table })
    await direct.set('d2', cookieSession({ n: 1 }))
    proxy.fault = { kind: 'latency', ms: 400, only: 'UpdateItem', times: 1 }
    const touch = slow.touch('d2', cookieSession({ n: 1 }, 3_600_000))
    await sleep(100)
    await direct.destroy('d2')
    await expect(touch).resolves.toBeNull()
    expect(await direct.get('d2')).toBeNull()
    await Promise.all([slow.close(), direct.close()])
  })

  test('the tombstone is invisible: no session for get, all, ids, length, or connect-dynamodb', async () => {
    const store = newStore()
    await store.set('d3', cookieSession({ n: 3 }))
    await store.set('d4', cookieSession({ n: 4 }))
    await store.destroy('d3')
    expect(await store.get('d3')).toBeNull()
    expect(await store.ids()).toEqual(['d4'])
    expect(await store.length()).toBe(1)
    expect((await store.all()).map((s) => s.id)).toEqual(['d4'])
    const Theirs = require('connect-dynamodb')(session)
    const theirs = new Theirs({ table: store.table, client: raw })
    expect(
      await new Promise((resolve, reject) => theirs.get('d3', (err, sess) => (err ? reject(err) : resolve(sess)))),
    ).toBeNull()
    const item = await rawItem(raw, store.table, 'sess:d3')
    expect(Object.keys(item).sort()).toEqual(['destroyed', 'expires', 'expiresMs', 'id', 'type'])
    await store.close()
  })
})

describe('options', () => {
  test.each([
    [{ maxRetries: -1 }, 'maxRetries'],
    [{ maxRetries: 1.5 }, 'maxRetries'],
    [{ maxRetries: 11 }, 'maxRetries'],
    [{ timeout: 'soon' }, 'timeout'],
    [{ circuitBreaker: 'on' }, 'circuitBreaker'],
    [{ circuitBreaker: { failures: 0 } }, 'circuitBreaker.failures'],
    [{ circuitBreaker: { probeInterval: 1 } }, 'circuitBreaker.probeInterval'],
    [{ circuitBreaker: { after: 3 } }, 'circuitBreaker.after'],
  ])('%j is refused, naming %s', (options, name) => {
    expect(() => newStore(options)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining(`"${name}"`) }),
    )
  })
})
