'use strict'

// connect-dynamodb-rs/otel with the real OpenTelemetry SDK (each scenario in
// a process of its own: __test__/fixtures/otel-scenarios.js). The spans match
// what @opentelemetry/instrumentation-aws-sdk gives for connect-dynamodb
// 3.0.5's calls — names, kinds, parents, attribute keys — and go beyond them.

const path = require('node:path')
const { execFile } = require('node:child_process')

const script = path.join(__dirname, 'fixtures', 'otel-scenarios.js')

/** Runs one scenario; its JSON result. */
function scenario(name) {
  const env = { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' }
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [script, name], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop()))
      } catch {
        reject(new Error(`scenario ${name} failed: ${err && err.message}\n${stderr}\n${stdout.slice(-300)}`))
      }
    }),
  )
}

const CLIENT = 2
const INTERNAL = 0
const keys = (span) => Object.keys(span.attributes).sort()

describe('parity with the AWS SDK instrumentation over connect-dynamodb 3.0.5', () => {
  let run
  beforeAll(async () => {
    run = await scenario('parity')
  }, 90_000)

  const clientSpans = (parent) =>
    run.spans.filter((span) => span.parent === parent && span.kind === CLIENT && span.name.startsWith('DynamoDB.'))

  test('the same calls give CLIENT spans of the same names under the caller; destroy writes a tombstone instead of deleting', () => {
    const theirs = clientSpans('theirs').map((span) => span.name)
    const ours = clientSpans('ours').map((span) => span.name)
    expect(theirs).toEqual(['DynamoDB.PutItem', 'DynamoDB.GetItem', 'DynamoDB.UpdateItem', 'DynamoDB.DeleteItem'])
    expect(ours).toEqual(['DynamoDB.PutItem', 'DynamoDB.GetItem', 'DynamoDB.UpdateItem', 'DynamoDB.PutItem'])
  })

  test("every attribute the SDK's span has, ours has, with the same values where they do not depend on the call", () => {
    const theirs = clientSpans('theirs')
    const ours = clientSpans('ours')
    for (const [i, their] of theirs.slice(0, 3).entries()) {
      const our = ours[i]
      expect({ span: our.name, missing: keys(their).filter((key) => !(key in our.attributes)) }).toEqual({
        span: our.name,
        missing: [],
      })
      for (const key of [
        'rpc.system',
        'rpc.service',
        'rpc.method',
        'cloud.region',
        'db.system.name',
        'db.namespace',
        'db.operation.name',
        'aws.dynamodb.table_names',
        'http.response.status_code',
      ]) {
        expect({ span: our.name, key, value: our.attributes[key] }).toEqual({
          span: our.name,
          key,
          value: their.attributes[key],
        })
      }
      expect(our.attributes['aws.request.id']).toEqual(expect.any(String))
    }
    // Beyond them: the store call behind each request, and the capacity it consumed.
    expect(ours.map((span) => span.attributes['connect_dynamodb_rs.operation'])).toEqual([
      'set',
      'get',
      'touch',
      'destroy',
    ])
    expect(ours.every((span) => span.attributes['aws.dynamodb.consumed_capacity'].length === 1)).toBe(true)
  })

  test('the attribute keys, side by side (the closing note prints this table)', () => {
    const table = clientSpans('theirs')
      .slice(0, 3)
      .map((their, i) => ({ span: their.name, theirs: keys(their), ours: keys(clientSpans('ours')[i]) }))
    expect(table).toHaveLength(3)
    if (process.env.PRINT_PARITY) console.log(JSON.stringify(table, null, 2))
  })
})

test('an express app traced end to end: two requests at once keep their DynamoDB spans under their own server span', async () => {
  const { spans } = await scenario('express')
  const servers = spans.filter((span) => span.kind === 1 && span.name.startsWith('GET'))
  expect(servers).toHaveLength(4)
  const byId = new Map(spans.map((span) => [span.spanId, span]))
  const clients = spans.filter((span) => span.kind === CLIENT && span.name.startsWith('DynamoDB.'))
  // Each first request saves (PutItem); each second reads and saves again.
  expect(clients.length).toBeGreaterThanOrEqual(6)
  for (const client of clients) {
    const parent = byId.get(client.parentId)
    expect({
      client: client.name,
      parentKind: parent && parent.kind,
      sameTrace: parent && parent.traceId === client.traceId,
    }).toEqual({
      client: client.name,
      parentKind: 1,
      sameTrace: true,
    })
  }
  const perServer = servers.map((server) =>
    clients.filter((client) => client.parentId === server.spanId).map((c) => c.name),
  )
  expect(perServer.filter((names) => names.includes('DynamoDB.GetItem'))).toHaveLength(2)
  const text = JSON.stringify(spans)
  expect(text).not.toMatch(/s%3A|connect\.sid=/)
}, 90_000)

test('a throttled call is one span with the retry as an event; a failed call is an ERROR span; metrics count both', async () => {
  const { spans, error, metrics } = await scenario('faults')
  const get = spans.find((span) => span.name === 'DynamoDB.GetItem')
  expect(get.status.code).toBe(0)
  expect(get.events).toEqual([
    {
      name: 'connect_dynamodb_rs.retry',
      attributes: expect.objectContaining({
        'connect_dynamodb_rs.attempt': 1,
        'error.type': 'ProvisionedThroughputExceededException',
        'http.response.status_code': 400,
      }),
    },
  ])
  expect(get.attributes['connect_dynamodb_rs.attempts']).toBe(2)
  expect(error).toBe('ValidationException')
  const update = spans.find((span) => span.name === 'DynamoDB.UpdateItem')
  expect(update.status).toMatchObject({ code: 2, message: 'refused here' })
  expect(update.events.map((event) => event.name)).toContain('exception')
  expect(update.parent).toBe('touch')
  // The touch within touchAfter sent nothing: no UpdateItem under "request".
  expect(spans.filter((span) => span.parent === 'request').map((span) => span.name)).toEqual([
    'DynamoDB.PutItem',
    'DynamoDB.GetItem',
  ])
  const metric = (name) => metrics.find((m) => m.name === name)
  const durations = metric('db.client.operation.duration')
  expect(durations.unit).toBe('s')
  expect(durations.points.map((p) => p.attributes['db.operation.name']).sort()).toEqual(
    expect.arrayContaining(['GetItem', 'PutItem', 'UpdateItem']),
  )
  expect(durations.points.find((p) => p.attributes['error.type'] === 'ValidationException')).toBeDefined()
  expect(metric('connect_dynamodb_rs.retries').points).toEqual([
    expect.objectContaining({
      attributes: expect.objectContaining({ 'error.type': 'ProvisionedThroughputExceededException' }),
      value: 1,
    }),
  ])
  expect(metric('connect_dynamodb_rs.skipped_writes').points).toEqual([
    expect.objectContaining({
      attributes: expect.objectContaining({ 'connect_dynamodb_rs.operation': 'touch' }),
      value: 1,
    }),
  ])
  const capacity = metric('connect_dynamodb_rs.consumed_capacity').points
  expect(capacity.map((p) => p.attributes['connect_dynamodb_rs.capacity.kind']).sort()).toEqual(['read', 'write'])
  expect(JSON.stringify({ spans, metrics })).not.toMatch(/faults-sid/)
}, 90_000)

test('what a hostile server sends cannot throw in the app, leave a span open, or flood the metrics', async () => {
  const { got, codes, uncaught, capacity, updates, longestStatus, metrics } = await scenario('hostile')
  expect(uncaught).toEqual([])
  expect(got).toBeNull()
  expect(codes).toBe(100)
  expect(capacity).toEqual(['{"CapacityUnits":"Infinity"}', '{"CapacityUnits":-3}', '{"CapacityUnits":2}'])
  expect(updates).toBe(100)
  expect(longestStatus).toBeLessThanOrEqual(1025)
  const metric = (name) => metrics.find((m) => m.name === name)
  expect(metric('connect_dynamodb_rs.consumed_capacity').points.map((p) => p.value)).toEqual([2])
  for (const name of ['db.client.operation.duration', 'connect_dynamodb_rs.store.calls']) {
    const types = new Set(
      metric(name)
        .points.map((p) => p.attributes['error.type'])
        .filter(Boolean),
    )
    expect({ name, bounded: types.size <= 65, other: types.has('_OTHER') }).toEqual({
      name,
      bounded: true,
      other: true,
    })
  }
}, 90_000)

test('with storeSpans, each store call is an INTERNAL span between the caller and its DynamoDB calls', async () => {
  const { spans } = await scenario('store-spans')
  const internal = spans.filter((span) => span.kind === INTERNAL && span.name.startsWith('DynamoDBStore.'))
  expect(internal.map((span) => [span.name, span.parent])).toEqual([
    ['DynamoDBStore.set', 'request'],
    ['DynamoDBStore.get', 'request'],
  ])
  expect(spans.filter((span) => span.kind === CLIENT).map((span) => [span.name, span.parent])).toEqual([
    ['DynamoDB.PutItem', 'DynamoDBStore.set'],
    ['DynamoDB.GetItem', 'DynamoDBStore.get'],
  ])
}, 90_000)

test('examples/otel.js prints each page request with the DynamoDB calls under it', async () => {
  const { spawn } = require('node:child_process')
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL_DYNAMODB: process.env.DYNAMODB_TEST_ENDPOINT,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    PORT: '0',
    DEMO_TABLE: `otel-example-${process.pid}`,
  }
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'examples', 'otel.js')], { env })
  let out = ''
  child.stdout.on('data', (chunk) => {
    out += chunk
  })
  child.stderr.on('data', (chunk) => {
    out += chunk
  })
  const until = async (pattern) => {
    for (let waited = 0; waited < 30_000 && !pattern.test(out); waited += 50)
      await new Promise((r) => setTimeout(r, 50))
    return pattern.exec(out)
  }
  try {
    const [, port] = (await until(/running at http:\/\/localhost:(\d+)/)) || []
    expect(port).toBeDefined()
    await fetch(`http://127.0.0.1:${port}/`).then((res) => res.text())
    expect(await until(/name: 'DynamoDB\.PutItem'/)).not.toBeNull()
    // The page's own span ends after its response, so it may print after the store's.
    expect(await until(/name: 'GET'/)).not.toBeNull()
  } finally {
    child.kill('SIGTERM')
  }
}, 60_000)
