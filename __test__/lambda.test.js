'use strict'

// examples/lambda.js as Lambda runs it: an API Gateway HTTP API event in, a
// response out, in one process kept across invocations, frozen between two of
// them longer than the other end keeps an idle connection open. The
// invocation after the thaw must succeed at once: no error, no retry, one new
// connection.

const net = require('node:net')
const path = require('node:path')
const { fork } = require('node:child_process')
const { connection, endpoint, uniqueTable, rawClient, createTableWithoutTtl } = require('./helpers')

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** A TCP relay to `target` that closes a connection idle for `idleMs` (as load balancers and DynamoDB's front do). */
async function idleClosingRelay(target, idleMs) {
  const state = { opened: 0, open: new Set() }
  const server = net.createServer((client) => {
    state.opened += 1
    state.open.add(client)
    const upstream = net.connect(target.port, target.hostname)
    const done = () => {
      state.open.delete(client)
      client.destroy()
      upstream.destroy()
    }
    client.setTimeout(idleMs, done)
    client.on('close', done).on('error', done)
    upstream.on('close', done).on('error', done)
    client.pipe(upstream).pipe(client)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.endpoint = `http://127.0.0.1:${server.address().port}`
  state.close = () => new Promise((resolve) => server.close(resolve))
  return state
}

/** An API Gateway HTTP API (payload 2.0) GET event. */
function httpApiEvent(rawPath, cookies) {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: '',
    cookies,
    headers: {
      host: 'sessions.example',
      'user-agent': 'test',
      'x-forwarded-proto': 'https',
      'x-forwarded-for': '203.0.113.7',
    },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'sessions.example',
      http: { method: 'GET', path: rawPath, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'test' },
      requestId: 'r',
      routeKey: '$default',
      stage: '$default',
      timeEpoch: Date.now(),
    },
    isBase64Encoded: false,
  }
}

let relay
let fn
const table = uniqueTable('lambda')
beforeAll(async () => {
  // The table exists before the function's first invocation, as a deployed one's does.
  const client = rawClient()
  await createTableWithoutTtl(client, table)
  client.destroy()
  relay = await idleClosingRelay(new URL(endpoint()), 300)
  const env = {
    ...process.env,
    SESSIONS_TABLE: table,
    SESSION_SECRET: 'lambda',
    AWS_ENDPOINT_URL_DYNAMODB: relay.endpoint,
    AWS_ACCESS_KEY_ID: connection().accessKeyId,
    AWS_SECRET_ACCESS_KEY: connection().secretAccessKey,
  }
  fn = fork(
    path.join(__dirname, 'fixtures', 'lambda-runtime.js'),
    [path.join(__dirname, '..', 'examples', 'lambda.js')],
    { env },
  )
  await new Promise((resolve) => fn.once('message', resolve))
})
afterAll(async () => {
  if (fn) fn.kill('SIGKILL')
  if (relay) await relay.close()
})

let next = 0
const invoke = (event) =>
  new Promise((resolve) => {
    const id = ++next
    const onMessage = (message) => {
      if (message.id !== id) return
      fn.off('message', onMessage)
      resolve(message)
    }
    fn.on('message', onMessage)
    fn.send({ id, event })
  })

test('invocations keep the session, and one after a freeze longer than the idle timeout succeeds at once', async () => {
  const first = await invoke(httpApiEvent('/count'))
  expect(first.error).toBeUndefined()
  expect(first.response.statusCode).toBe(200)
  expect(JSON.parse(first.response.body)).toEqual({ count: 1 })
  const cookies = first.response.cookies.map((cookie) => cookie.split(';')[0])
  const second = await invoke(httpApiEvent('/count', cookies))
  expect(JSON.parse(second.response.body)).toEqual({ count: 2 })
  const connectionsBefore = relay.opened

  // The environment is frozen between invocations; meanwhile the idle connection is closed.
  fn.kill('SIGSTOP')
  await delay(1_000)
  expect(relay.open.size).toBe(0)
  fn.kill('SIGCONT')

  const third = await invoke(httpApiEvent('/count', cookies))
  expect(third.error).toBeUndefined()
  expect(JSON.parse(third.response.body)).toEqual({ count: 3 })
  expect(third.retries).toBe(first.retries)
  expect(relay.opened - connectionsBefore).toBe(1)
})
