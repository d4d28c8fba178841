'use strict'

// The diagnostics channels (lib/diagnostics.js, docs/observability.md): one
// traced operation per store call on `connect-dynamodb-rs:store`, one per
// DynamoDB attempt on `connect-dynamodb-rs:request`, the breaker on
// `connect-dynamodb-rs:breaker`; and nothing in any of them that names a
// session, a user or a lock.

const dc = require('node:diagnostics_channel')
const { newStore, cookieSession, connection, endpoint } = require('./helpers')
const { dynamoDBFront } = require('./fixtures/dynamodb-front')

/** Records every message of the three channels while `run()` runs, as [channel, event, message]. */
async function recorded(run) {
  const seen = []
  const handlers = (name) =>
    Object.fromEntries(
      ['start', 'end', 'asyncStart', 'asyncEnd', 'error'].map((event) => [
        event,
        (message) => seen.push([name, event, message]),
      ]),
    )
  const store = handlers('store')
  const request = handlers('request')
  const breaker = (message) => seen.push(['breaker', 'publish', message])
  dc.tracingChannel('connect-dynamodb-rs:store').subscribe(store)
  dc.tracingChannel('connect-dynamodb-rs:request').subscribe(request)
  dc.subscribe('connect-dynamodb-rs:breaker', breaker)
  try {
    await run()
  } finally {
    dc.tracingChannel('connect-dynamodb-rs:store').unsubscribe(store)
    dc.tracingChannel('connect-dynamodb-rs:request').unsubscribe(request)
    dc.unsubscribe('connect-dynamodb-rs:breaker', breaker)
  }
  return seen
}

const ended = (seen, channel) =>
  seen.filter(([name, event]) => name === channel && event === 'asyncEnd').map(([, , m]) => m)

/** Every message as JSON, to search for what must not be there. */
function everything(seen) {
  const cache = new Set()
  return JSON.stringify(
    seen.map(([, , message]) => message),
    (_key, value) => {
      if (value instanceof Error) return { message: value.message, code: value.code, stack: value.stack }
      if (value && typeof value === 'object') {
        if (cache.has(value)) return '[seen]'
        cache.add(value)
      }
      return value
    },
  )
}

test('each store call is one traced operation, and each of its DynamoDB attempts another, linked to it', async () => {
  const store = newStore()
  await store.initialize()
  const seen = await recorded(async () => {
    await store.set('diag-sid-1', cookieSession({ secret: 'content-marker' }))
    await store.get('diag-sid-1')
    await new Promise((resolve) => store.touch('diag-sid-1', cookieSession({ secret: 'content-marker' }), resolve))
    await store.destroy('diag-sid-1')
    await store.length()
  })
  const calls = ended(seen, 'store')
  expect(calls.map((m) => [m.operation, m.table])).toEqual([
    ['set', store.table],
    ['get', store.table],
    ['touch', store.table],
    ['destroy', store.table],
    ['length', store.table],
  ])
  // A summary, never the session: whether one was found, how many.
  expect(calls.map((m) => m.result)).toEqual([undefined, true, true, undefined, 0])
  const requests = ended(seen, 'request')
  expect(requests.map((m) => m.operation)).toEqual(['PutItem', 'GetItem', 'UpdateItem', 'PutItem', 'Scan'])
  for (const [i, m] of requests.entries()) {
    expect(m).toMatchObject({
      table: store.table,
      region: 'us-east-1',
      endpoint: new URL(endpoint()).hostname,
      attempt: 1,
      sequence: 1,
      statusCode: 200,
      requestId: expect.any(String),
      storeOperation: calls[i],
    })
    expect(m.endTime).toBeGreaterThanOrEqual(m.startTime)
    expect(m.consumedCapacity).toMatchObject({ TableName: store.table, CapacityUnits: expect.any(Number) })
  }
  expect(requests[1].consistentRead).toBe(true)
  // Each attempt: start and end when sent, asyncStart and asyncEnd when answered.
  const events = seen.filter(([name]) => name === 'request').map(([, event]) => event)
  expect(events.slice(0, 4)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd'])
  const text = everything(seen)
  expect(text).not.toContain('diag-sid-1')
  expect(text).not.toContain('content-marker')
  await store.close()
})

test('a throttled attempt is retried: its end says why and when the next one comes; a call that fails publishes its error', async () => {
  const front = await dynamoDBFront(endpoint(), (operation, count) => {
    if (operation === 'GetItem' && count === 1)
      return { status: 400, type: 'ProvisionedThroughputExceededException', message: 'slow down' }
    if (operation === 'UpdateItem') return { status: 400, type: 'ValidationException', message: 'refused here' }
    return null
  })
  const store = newStore({ AWSConfigJSON: { ...connection(), endpoint: front.endpoint } })
  await store.initialize()
  await store.set('diag-retry', cookieSession())
  const seen = await recorded(async () => {
    await store.get('diag-retry')
    await store.touch('diag-retry', cookieSession()).catch(() => {})
  })
  const requests = ended(seen, 'request')
  const gets = requests.filter((m) => m.operation === 'GetItem')
  expect(gets.map((m) => [m.attempt, m.sequence, m.statusCode, m.errorType])).toEqual([
    [1, 1, 400, 'ProvisionedThroughputExceededException'],
    [2, 1, 200, undefined],
  ])
  expect(gets[0].retryAfterMs).toEqual(expect.any(Number))
  expect(gets[0].requestId).toMatch(/^FRONT/)
  expect(gets[1].retryAfterMs).toBeUndefined()
  const update = requests.find((m) => m.operation === 'UpdateItem')
  expect(update).toMatchObject({ errorType: 'ValidationException', statusCode: 400 })
  expect(update.error).toMatchObject({ code: 'ValidationException', message: 'refused here' })
  expect(seen.filter(([name, event]) => name === 'request' && event === 'error')).toHaveLength(2)
  const touch = ended(seen, 'store').find((m) => m.operation === 'touch')
  expect(touch.error).toMatchObject({ code: 'ValidationException' })
  await store.close()
  await front.close()
})

test('a failed condition is an answer, not an error: destroying a session never saved', async () => {
  const store = newStore()
  await store.initialize()
  const seen = await recorded(() => store.destroy('diag-never-saved'))
  const [put] = ended(seen, 'request')
  expect(put).toMatchObject({ operation: 'PutItem', statusCode: 400, conditionFailed: true })
  expect(put.error).toBeUndefined()
  expect(seen.some(([, event]) => event === 'error')).toBe(false)
  await store.close()
})

test('the breaker opening and closing is published', async () => {
  let down = true
  const front = await dynamoDBFront(endpoint(), () =>
    down ? { status: 500, type: 'InternalServerError', message: 'down' } : null,
  )
  const store = newStore({
    AWSConfigJSON: { ...connection(), endpoint: front.endpoint },
    maxRetries: 0,
    circuitBreaker: { failures: 2, probeInterval: 20 },
    log: () => {},
  })
  const seen = await recorded(async () => {
    for (let i = 0; i < 3; i++) await store.get('diag-breaker').catch(() => {})
    down = false
    await new Promise((resolve) => store.once('connect', resolve))
  })
  expect(seen.filter(([name]) => name === 'breaker').map(([, , m]) => m)).toEqual([
    { table: store.table, state: 'open' },
    { table: store.table, state: 'closed' },
  ])
  await store.close()
  await front.close()
})

test('without a subscriber on the request channel, the core records no attempts', async () => {
  const store = newStore()
  await store.initialize()
  const seen = []
  const only = { asyncEnd: (message) => seen.push(message) }
  dc.tracingChannel('connect-dynamodb-rs:store').subscribe(only)
  const request = dc.tracingChannel('connect-dynamodb-rs:request')
  const late = { asyncEnd: (message) => seen.push(message) }
  try {
    const saving = store.set('diag-untraced', cookieSession())
    // Subscribing while the call is in flight does not trace it: it started untraced.
    request.subscribe(late)
    await saving
  } finally {
    request.unsubscribe(late)
    dc.tracingChannel('connect-dynamodb-rs:store').unsubscribe(only)
  }
  expect(seen.map((m) => m.operation)).toEqual(['set'])
  await store.close()
})

test('a subscriber on the request channel alone sees the attempts', async () => {
  const store = newStore()
  await store.initialize()
  const seen = []
  const only = { asyncEnd: (message) => seen.push(message) }
  const request = dc.tracingChannel('connect-dynamodb-rs:request')
  request.subscribe(only)
  try {
    await store.set('diag-request-only', cookieSession())
    await store.get('diag-request-only')
  } finally {
    request.unsubscribe(only)
  }
  expect(seen.map((m) => [m.operation, m.statusCode, m.storeOperation.operation])).toEqual([
    ['PutItem', 200, 'set'],
    ['GetItem', 200, 'get'],
  ])
  await store.close()
})

test("a store call's callback runs in its caller's async context, traced or not, on both carriers", async () => {
  const { AsyncLocalStorage } = require('node:async_hooks')
  const als = new AsyncLocalStorage()
  const seen = async (store, label) => {
    const inCallbacks = await als.run(label, () => {
      const got = []
      return new Promise((resolve) =>
        store.set(`diag-als-${label}`, cookieSession(), () => {
          got.push(als.getStore())
          store.get(`diag-als-${label}`, () => {
            got.push(als.getStore())
            store.destroy(`diag-als-${label}`, () => resolve([...got, als.getStore()]))
          })
        }),
      )
    })
    return inCallbacks
  }
  for (const transport of ['native', 'node']) {
    const store = newStore({ transport })
    await store.initialize()
    expect(await seen(store, `${transport}-untraced`)).toEqual(Array(3).fill(`${transport}-untraced`))
    await recorded(async () => {
      expect(await seen(store, `${transport}-traced`)).toEqual(Array(3).fill(`${transport}-traced`))
    })
    await store.close()
  }
})

test('an attempt announced by a retry always ends, even when a stalled event loop spends the time left before it is sent', async () => {
  const front = await dynamoDBFront(endpoint(), (operation) =>
    operation === 'GetItem' ? { status: 500, type: 'InternalServerError', message: 'down' } : null,
  )
  const store = newStore({ timeout: 300, maxRetries: 3, AWSConfigJSON: { ...connection(), endpoint: front.endpoint } })
  await store.initialize()
  const starts = []
  const ends = []
  const stall = (ms) => {
    const until = Date.now() + ms
    while (Date.now() < until) {}
  }
  const handlers = {
    start: (m) => starts.push(m.attempt),
    asyncEnd: (m) => {
      ends.push(m)
      // The first end that promises another attempt stalls the loop past the call's time limit.
      if (ends.length === 1 && m.retryAfterMs != null) stall(400)
    },
  }
  const request = dc.tracingChannel('connect-dynamodb-rs:request')
  request.subscribe(handlers)
  let failure
  try {
    failure = await store.get('diag-stalled').catch((err) => err)
  } finally {
    request.unsubscribe(handlers)
  }
  expect(failure.code).toBe('ERR_TIMEOUT')
  expect(ends.map((m) => m.attempt)).toEqual(starts)
  const last = ends[ends.length - 1]
  expect(last.retryAfterMs).toBeUndefined()
  expect(last.errorType).toBe('ERR_TIMEOUT')
  await store.close()
  await front.close()
})

test("a call's attempts are forgotten with the call: an end that comes after it is not published", () => {
  const { RequestTracer } = require('../lib/diagnostics')
  const tracer = new RequestTracer('t')
  const seen = []
  const handlers = { start: (m) => seen.push(['start', m.attempt]), asyncEnd: (m) => seen.push(['end', m.attempt]) }
  const request = dc.tracingChannel('connect-dynamodb-rs:request')
  request.subscribe(handlers)
  try {
    const event = { call: 1, sequence: 1, operation: 'GetItem', attempt: 1, time: Date.now() }
    tracer.begin(1, { operation: 'get', table: 't' })
    tracer.publish([{ ...event, kind: 'start', region: 'r', host: 'h', consistentRead: false }])
    tracer.finish(1)
    tracer.publish([{ ...event, kind: 'end', statusCode: 200 }])
  } finally {
    request.unsubscribe(handlers)
  }
  expect(seen).toEqual([['start', 1]])
})
