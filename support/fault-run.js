'use strict'

// A fault under load: a store serves steady traffic while DynamoDB Local is
// stopped (or killed) and started again on the same port with its data kept
// on disk, or while the fault proxy in front of it throttles, stalls, drops
// or swallows requests. Used by `npm run bench:faults` (the report) and by
// __test__/outage.test.js.
//
// Each worker owns a few sessions and alternates reads and saves of them, one
// call at a time, so every session's saves are ordered: after the run, a
// session whose stored counter is below its last acknowledged save lost an
// acknowledged write.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { DynamoDBClient, GetItemCommand } = require('@aws-sdk/client-dynamodb')
const { startDynamoDBLocal } = require('./dynamodb-local')
const { startFaultProxy } = require('./fault-proxy')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const CREDENTIALS = { accessKeyId: 'outage', secretAccessKey: 'outage' }
/** A call that has not answered after this long is counted as hung (and abandoned). */
const HANG_MS = 15_000

function percentile(values, p) {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

/** Runs `operation()`, resolving `{ ok, code, ms }`; never rejects, never waits past HANG_MS. */
function timed(operation) {
  const started = Date.now()
  let timer
  const hang = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, code: 'HUNG' }), HANG_MS)
  })
  const outcome = Promise.resolve()
    .then(operation)
    .then(
      () => ({ ok: true }),
      (err) => ({ ok: false, code: (err && (err.code || err.name)) || 'UNKNOWN' }),
    )
  return Promise.race([outcome, hang]).then((result) => {
    clearTimeout(timer)
    return { ...result, started, ms: Date.now() - started }
  })
}

/**
 * @param {object} o
 * @param {(endpoint: string, table: string) => object} o.makeStore an express-session store
 * @param {object} o.fault `{ stop: 'SIGTERM' | 'SIGKILL' }` stops DynamoDB Local and starts it
 *   again; `{ proxy: <fault-proxy fault> }` sets that fault on the proxy for `faultMs`
 * @param {number} o.healthyMs load before the fault
 * @param {number} o.faultMs how long the fault lasts (DynamoDB Local stays stopped)
 * @param {number} o.afterMs load after DynamoDB answers again
 * @param {number} [o.workers]
 * @param {number} [o.sessionsPerWorker]
 * @param {number} [o.thinkMs] pause between one worker's calls
 */
async function runUnderFault({
  makeStore,
  fault,
  healthyMs,
  faultMs,
  afterMs,
  workers = 8,
  sessionsPerWorker = 4,
  thinkMs = 5,
}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdrs-faults-'))
  let ddb = await startDynamoDBLocal({ path: dir })
  const { port, endpoint } = ddb
  const proxy = fault.proxy ? await startFaultProxy(endpoint) : null
  const table = `faults-${process.pid}-${Date.now().toString(36)}`
  const store = makeStore(proxy ? proxy.endpoint : endpoint, table)
  const call = (method, ...args) =>
    new Promise((resolve, reject) => store[method](...args, (err, value) => (err ? reject(err) : resolve(value))))
  const events = []
  store.on('disconnect', () => events.push({ event: 'disconnect', at: Date.now() }))
  store.on('connect', () => events.push({ event: 'connect', at: Date.now() }))

  const sids = Array.from({ length: workers * sessionsPerWorker }, (_, i) => `o${i}`)
  const acked = new Map()
  let acknowledgedWrites = 0
  const attempted = new Map()
  const session = (n) => ({
    cookie: {
      originalMaxAge: 3_600_000,
      expires: new Date(Date.now() + 3_600_000).toISOString(),
      httpOnly: true,
      path: '/',
    },
    n,
  })
  for (const sid of sids) {
    await call('set', sid, session(0))
    acked.set(sid, 0)
    attempted.set(sid, 0)
  }

  const calls = []
  let running = true
  const worker = async (w) => {
    for (let i = 0; running; i++) {
      const sid = sids[w * sessionsPerWorker + (i % sessionsPerWorker)]
      if (i % 2 === 0) {
        calls.push({ op: 'get', ...(await timed(() => call('get', sid))) })
      } else {
        const n = attempted.get(sid) + 1
        attempted.set(sid, n)
        const result = await timed(() => call('set', sid, session(n)))
        if (result.ok) {
          acked.set(sid, n)
          acknowledgedWrites += 1
        }
        calls.push({ op: 'set', ...result })
      }
      await sleep(thinkMs)
    }
  }
  const started = Date.now()
  const load = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)))

  await sleep(healthyMs)
  const faultAt = Date.now()
  let healStartAt
  if (proxy) {
    proxy.fault = { ...fault.proxy }
    await sleep(faultMs)
    healStartAt = Date.now()
    proxy.fault = null
  } else {
    await ddb.stop(fault.stop)
    await sleep(faultMs)
    healStartAt = Date.now()
    ddb = await startDynamoDBLocal({ port, path: dir })
  }
  const healedAt = Date.now()
  await sleep(afterMs)
  running = false
  await load
  const endedAt = Date.now()

  // The truth, read from outside the store once everything has settled.
  const raw = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: CREDENTIALS })
  let lost = 0
  let landedUnacknowledged = 0
  for (const sid of sids) {
    const { Item } = await raw.send(
      new GetItemCommand({ TableName: table, Key: { id: { S: `sess:${sid}` } }, ConsistentRead: true }),
    )
    const stored = Item && Item.sess && Item.sess.S ? JSON.parse(Item.sess.S).n : -1
    if (stored < acked.get(sid)) lost += 1
    if (stored > acked.get(sid)) landedUnacknowledged += 1
  }
  raw.destroy()
  const stats = typeof store.stats === 'function' ? store.stats() : undefined
  if (typeof store.close === 'function') await store.close()
  else if (store.client && typeof store.client.destroy === 'function') store.client.destroy()
  if (proxy) await proxy.stop()
  await ddb.stop()
  fs.rmSync(dir, { recursive: true, force: true })

  const healthy = calls.filter((c) => c.started + c.ms < faultAt)
  const down = calls.filter((c) => c.started + c.ms >= faultAt && c.started < healedAt)
  const after = calls.filter((c) => c.started >= healedAt)
  const rate = (list) => (list.length === 0 ? null : list.filter((c) => c.ok).length / list.length)
  const failedDown = down.filter((c) => !c.ok)
  const firstSuccessAfter = calls.filter((c) => c.ok && c.started + c.ms >= healedAt).map((c) => c.started + c.ms)
  const recoveredAt = firstSuccessAfter.length ? Math.min(...firstSuccessAfter) : null
  // Recovered for good: from here on, every call that started succeeded.
  const lastFailureStart = Math.max(healedAt, ...calls.filter((c) => !c.ok).map((c) => c.started))
  const codes = {}
  for (const c of failedDown) codes[c.code] = (codes[c.code] || 0) + 1
  const connectAt = events.find((e) => e.event === 'connect' && e.at >= healedAt)
  return {
    calls: calls.length,
    successRate: rate(calls),
    callsPerSecond: calls.length / ((endedAt - started) / 1000),
    successRateHealthy: rate(healthy),
    successRateDown: rate(down),
    successRateAfter: rate(after),
    failDownP50Ms: percentile(
      failedDown.map((c) => c.ms),
      50,
    ),
    failDownP99Ms: percentile(
      failedDown.map((c) => c.ms),
      99,
    ),
    failDownMaxMs: failedDown.length ? Math.max(...failedDown.map((c) => c.ms)) : null,
    downCodes: codes,
    hung: calls.filter((c) => c.code === 'HUNG').length,
    restartMs: healedAt - healStartAt,
    recoverMs: recoveredAt === null ? null : recoveredAt - healedAt,
    allHealthyAfterMs: after.length === 0 ? null : lastFailureStart - healedAt,
    connectEventMs: connectAt ? connectAt.at - healedAt : null,
    events: events.map((e) => e.event),
    retries: stats ? stats.retries : null,
    acknowledgedWrites,
    acknowledgedLost: lost,
    landedUnacknowledged,
  }
}

module.exports = { runUnderFault, CREDENTIALS }
