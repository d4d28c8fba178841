// Compiled by types.test.js: what a TypeScript user writes must type-check,
// and each line marked @ts-expect-error must be rejected.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import session from 'express-session'

import connectDynamoDB = require('../..')

import { DynamoDBStore as NamedStore } from '../..'

const DynamoDBStore = connectDynamoDB(session)
const options: connectDynamoDB.DynamoDBStoreOptions = {
  table: 'sessions',
  hashKey: 'id',
  prefix: 'sess:',
  readCapacityUnits: 5,
  writeCapacityUnits: '5',
  reapInterval: 0,
  specialKeys: [{ name: 'user', type: 'S' }],
  skipThrowMissingSpecialKeys: false,
  initialized: false,
  AWSConfigJSON: { region: 'us-east-1', endpoint: 'http://localhost:8000', accessKeyId: 'a', secretAccessKey: 'b' },
  AWSRegion: 'us-east-1',
  userPath: 'passport.user',
  rangeKey: 'user',
  userIndex: 'user-id-index',
  indexAnonymousSessions: false,
  maxSessionsPerUser: 3,
  touchAfter: 60_000,
  skipUnchangedWrites: true,
  ttl: (sess) => sess.cookie.maxAge ?? 3_600_000,
  consistentRead: true,
  billingMode: 'PAY_PER_REQUEST',
  autoCreate: true,
  compress: { minBytes: 2048 },
  maxRetries: 2,
  timeout: 1500,
  circuitBreaker: { failures: 5, probeInterval: 1000 },
  encryption: { keys: { k1: 'AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=' }, primaryKeyId: 'k1' },
  hashIds: { secret: 'at least sixteen bytes' },
  versioning: true,
  maxLockTime: 10,
  lockVerificationProperty: 'refresh_token',
  err: (message, error) => console.error(message, error.code),
  log: (message) => console.log(message),
  transport: 'auto',
}
const store: session.Store = new DynamoDBStore(options)
const typed = new NamedStore({ client: new DynamoDBClient({}) })
session({ store: typed, secret: 's', resave: false, saveUninitialized: false })

async function use(s: connectDynamoDB.DynamoDBStore, sess: session.SessionData): Promise<void> {
  const got: session.SessionData | null = await s.get('sid')
  await s.set('sid', sess)
  const touched: connectDynamoDB.TouchResult | null = await s.touch('sid', sess)
  const expires: string | undefined = touched?.expires
  const n: number = await s.length()
  const ids: string[] = await s.ids()
  const reaped: number = await s.reap()
  s.get('sid', (_err, value) => value?.cookie)
  s.destroy('sid', (err) => err)
  await s.ensureUserIndex()
  const devices: connectDynamoDB.UserSession[] = await s.listSessionsForUser('u-1')
  const firstExpiry: Date | undefined = devices[0]?.expires
  const ended: number = await s.destroyOtherSessionsForUser(42, 'sid')
  s.destroyAllSessionsForUser('u-1', (_err, count) => count)
  const written: number = s.stats().consumedCapacity.writeUnits
  const carrier: 'native' | 'node' = s.transport
  const token: string = await s.lock('sid', 'refresh-token-value')
  const released: boolean = await s.unlock('sid', token)
  const held: boolean = await s.holdsLock('sid', token)
  const version: unknown = (got as Record<string, unknown> | null)?.[connectDynamoDB.VERSION_PROPERTY]
  s.unlock('sid', (err) => err?.code === 'ERR_SESSION_LOCKED')
  const described: connectDynamoDB.DescribeTableOutput = await s.describeSessionsTable()
  const status: string | undefined = described.Table?.TableStatus
  const created: Date | undefined = described.Table?.CreationDateTime
  await s.createSessionsTable()
  s.describeSessionsTable((_err, out) => out?.Table?.KeySchema)
  const parsed: session.SessionData | null = s.getParsedSession({ Item: { sess: { S: '{}' }, expires: { N: '1' } } })
  const expiresAt: number = s.getExpiresValue(sess)
  s.getExpiresValue(sess, (_err, at) => at)
  await s.close()
  void [
    got,
    expires,
    n,
    ids,
    reaped,
    firstExpiry,
    ended,
    written,
    carrier,
    released,
    held,
    version,
    status,
    created,
    parsed,
    expiresAt,
  ]
}

// @ts-expect-error table must be a string
new DynamoDBStore({ table: 5 })
// @ts-expect-error unknown special key type
new DynamoDBStore({ specialKeys: [{ name: 'x', type: 'SS' }] })
// @ts-expect-error billingMode is one of two names
new DynamoDBStore({ billingMode: 'ON_DEMAND' })
// @ts-expect-error a user is a string or a number
typed.listSessionsForUser({ id: 1 })
// @ts-expect-error getExpiresValue returns a number, not a promise
typed.getExpiresValue(undefined).then(() => {})
// @ts-expect-error format is one of two layouts
new DynamoDBStore({ format: 'redis' })
// @ts-expect-error transport is one of three
new DynamoDBStore({ transport: 'uv' })
// @ts-expect-error the factory needs something carrying a Store
connectDynamoDB({})

void [store, use]

// The diagnostics channels' messages, and the OpenTelemetry instrumentation.
import { subscribe, tracingChannel } from 'node:diagnostics_channel'
import { ConnectDynamoDBRsInstrumentation } from '../../otel'

const requests = tracingChannel<connectDynamoDB.RequestMessage, connectDynamoDB.RequestMessage>(
  'connect-dynamodb-rs:request',
)
requests.subscribe({
  start(message) {
    const operation: string = message.operation
    const store: string | undefined = message.storeOperation?.operation
    void [operation, store]
  },
  asyncEnd(message) {
    const retry: number | undefined = message.retryAfterMs
    void retry
  },
})
subscribe('connect-dynamodb-rs:breaker', (message) => {
  const state: 'open' | 'closed' = (message as connectDynamoDB.BreakerMessage).state
  void state
})
const instrumentation = new ConnectDynamoDBRsInstrumentation({
  storeSpans: true,
  responseHook(span, message) {
    span.setAttribute('my.capacity', message.consumedCapacity?.CapacityUnits ?? 0)
  },
})
instrumentation.disable()

import { DynamoDBHonoStore, DynamoDBSessionStorage } from '../../hono'
// connect-dynamodb-rs/koa and connect-dynamodb-rs/hono
import { DynamoDBKoaStore, expressCookie } from '../../koa'

const koaStore = new DynamoDBKoaStore({ table: 'sessions', touchAfter: 60_000 })
const koaShared = new DynamoDBKoaStore({ store: koaStore.store })
void koaShared.get('sid', 1000, { rolling: true }).then((sess) => sess?._expire)
void koaStore.set('sid', { count: 1, _expire: Date.now() }, 'session', { changed: false })
const externalKey = expressCookie({ secret: ['new', 'old'], cookie: { maxAge: 1000 } })
externalKey.set({}, 'sid')
// @ts-expect-error the secret is required
expressCookie({ name: 'sid' })

const honoStore = new DynamoDBHonoStore({ table: 'sessions' })
void honoStore.getSessionById('sid').then((data) => data?._data)
const storage = new DynamoDBSessionStorage<{ count: number }>({ table: 'sessions', maxAge: 60_000 })
storage.set('sid', { count: 1 })
// @ts-expect-error data of another shape
storage.set('sid', { count: 'one' })
void storage.get('sid').then((data) => data?.count)
