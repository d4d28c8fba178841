'use strict'

// The stores under test, configured alike: same table, same DynamoDB Local,
// explicit static credentials. js is the hand-written JS store of
// bench/js-store.js: the floor for a pure-JS store, not a product.

const STORES = {
  rs: 'connect-dynamodb-rs',
  'rs-node': "connect-dynamodb-rs on Node's sockets (the carrier of Windows, Bun and Deno)",
  base: 'another build of connect-dynamodb-rs (BENCH_BASELINE), on its own sockets',
  'base-node': "another build of connect-dynamodb-rs (BENCH_BASELINE), on Node's sockets",
  'rs-otel': 'connect-dynamodb-rs traced: connect-dynamodb-rs/otel on the OpenTelemetry SDK, every span exported',
  cd: 'connect-dynamodb@3.0.5',
  'cd-otel': "connect-dynamodb@3.0.5 traced: the AWS SDK's OpenTelemetry instrumentation, every span exported",
  js: 'hand-written JS store (node:http, SigV4, no SDK)',
  memory: "express-session's MemoryStore (no I/O: the floor of the express runs)",
}

/**
 * The OpenTelemetry SDK as an app sets it up, with a sampled root span per call's caller and
 * an exporter that drops what it is given: what tracing costs the process, not the network.
 */
function traced(instrumentation) {
  const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node')
  const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base')
  const { registerInstrumentations } = require('@opentelemetry/instrumentation')
  const exporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} }
  const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] })
  provider.register()
  registerInstrumentations({ instrumentations: [instrumentation()], tracerProvider: provider })
}

function createStore(kind, { endpoint, table }) {
  const session = require('express-session')
  if (kind === 'rs-otel') {
    traced(() => new (require('../otel').ConnectDynamoDBRsInstrumentation)())
    return createStore('rs', { endpoint, table })
  }
  if (kind === 'cd-otel') {
    traced(() => new (require('@opentelemetry/instrumentation-aws-sdk').AwsInstrumentation)())
    return createStore('cd', { endpoint, table })
  }
  if (['rs', 'rs-node', 'base', 'base-node'].includes(kind)) {
    if (kind.endsWith('-node')) process.env.CONNECT_DYNAMODB_RS_TRANSPORT = 'node'
    // BENCH_BASELINE: the directory of a copy of this package as it was (say, before a change).
    const DynamoDBStore = require(kind.startsWith('base') ? process.env.BENCH_BASELINE : '..')(session)
    return new DynamoDBStore({
      table,
      AWSConfigJSON: { endpoint, region: 'us-east-1', accessKeyId: 'bench', secretAccessKey: 'bench' },
    })
  }
  if (kind === 'cd') {
    const { DynamoDBClient } = require('@aws-sdk/client-dynamodb')
    const DynamoDBStore = require('connect-dynamodb')(session)
    const client = new DynamoDBClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    })
    return new DynamoDBStore({ table, client })
  }
  if (kind === 'js') {
    const { JsStore } = require('./js-store')
    return new JsStore({ endpoint, table, accessKeyId: 'bench', secretAccessKey: 'bench' })
  }
  if (kind === 'memory') return new session.MemoryStore()
  throw new Error(`unknown store ${kind}`)
}

/** Calls a store method the way express-session does: with a callback. */
const call = (store, method, ...args) =>
  new Promise((resolve, reject) => store[method](...args, (err, value) => (err ? reject(err) : resolve(value))))

/** A session whose JSON is about `bytes` long, shaped like a real one. */
function sessionOfSize(bytes) {
  const base = {
    cookie: {
      originalMaxAge: 86_400_000,
      expires: new Date(Date.now() + 86_400_000).toISOString(),
      httpOnly: true,
      path: '/',
    },
    passport: { user: 'user-0001' },
    csrfSecret: 'k3Jq9xY2pL0aVb7nT4sWm1',
    prefs: { theme: 'dark', lang: 'en-GB' },
    cart: [],
  }
  let i = 0
  while (JSON.stringify(base).length < bytes) {
    base.cart.push({ sku: `SKU-${String(i).padStart(6, '0')}`, qty: (i % 5) + 1, price: 1999 + i, note: 'gift wrap' })
    i += 1
  }
  return base
}

/** The AWS SDKs' notices about Node versions say nothing about the stores: keep a run readable. */
const QUIET = {
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1',
}

module.exports = { STORES, QUIET, createStore, call, sessionOfSize }
