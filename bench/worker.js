'use strict'

// One store, one process: runs a scenario and reports to the parent over IPC.
// argv: <store kind> <scenario> ; env: BENCH_ENDPOINT, BENCH_TABLE, BENCH_PARAMS (JSON)

const { performance } = require('node:perf_hooks')
const { createStore, call, sessionOfSize } = require('./stores')

const [kind, scenario] = process.argv.slice(2)
const params = JSON.parse(process.env.BENCH_PARAMS || '{}')
const store = createStore(kind, { endpoint: process.env.BENCH_ENDPOINT, table: process.env.BENCH_TABLE })

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
const cpuMicros = (since) => {
  const { user, system } = process.cpuUsage(since)
  return user + system
}

/** Runs `count` sequential calls of `op(i)`; latency per call, CPU and ELU over all. */
async function sequential(count, op) {
  const latencies = new Float64Array(count)
  const cpu0 = process.cpuUsage()
  const elu0 = performance.eventLoopUtilization()
  for (let i = 0; i < count; i++) {
    const t0 = performance.now()
    await op(i)
    latencies[i] = performance.now() - t0
  }
  const elu = performance.eventLoopUtilization(elu0).utilization
  const { user, system } = process.cpuUsage(cpu0)
  latencies.sort()
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuUs: (user + system) / count,
    sysUs: system / count,
    elu,
  }
}

/**
 * CPU of the JSON work express-session's contract puts on every store: one
 * JSON.stringify of the session per save, one JSON.parse per read. The 64 KB
 * target is net of it.
 */
function jsonCost(sess, count) {
  const text = JSON.stringify(sess)
  const each = (fn) => {
    for (let i = 0; i < count; i++) fn() // warm
    const cpu0 = process.cpuUsage()
    for (let i = 0; i < count; i++) fn()
    return cpuMicros(cpu0) / count
  }
  return { stringifyUs: each(() => JSON.stringify(sess)), parseUs: each(() => JSON.parse(text)) }
}

/**
 * Warms the store (its connections, and the JIT of everything JS in it) with
 * saves and reads of a 1 KB session until two batches in a row cost within 5%
 * CPU per call of each other: the JS SDK needs thousands of calls to settle.
 */
async function warm() {
  const { batch = 200, min = 2000, max = 12000 } = params.warm || {}
  const sess = sessionOfSize(1024)
  const id = (i) => `warm-${kind}-${process.pid}-${i % 20}`
  let calls = 0
  let last = Infinity
  for (;;) {
    const cpu0 = process.cpuUsage()
    for (let i = 0; i < batch; i += 2) {
      await call(store, 'set', id(calls + i), sess)
      await call(store, 'get', id(calls + i))
    }
    const perCall = cpuMicros(cpu0) / batch
    calls += batch
    if (calls >= max || (calls >= min && Math.abs(perCall - last) / last < 0.05)) return calls
    last = perCall
  }
}

async function runSequential() {
  const results = { warmCalls: await warm(), json: {} }
  for (const size of params.sizes) {
    const sess = sessionOfSize(size)
    // Fresh ids in every process: a destroyed id refuses saves for 5 minutes (tombstones).
    const sid = (i) => `seq-${kind}-${size}-${process.pid}-${i}`
    // Warm both sides (connection pool, JIT) before measuring.
    for (let i = 0; i < 20; i++) await call(store, 'set', sid(i), sess)
    results[`set ${size}`] = await sequential(params.count, (i) => call(store, 'set', sid(i), sess))
    results[`get ${size}`] = await sequential(params.count, (i) => call(store, 'get', sid(i)))
    results[`touch ${size}`] = await sequential(params.count, (i) => call(store, 'touch', sid(i), sess))
    results[`destroy ${size}`] = await sequential(params.count, (i) => call(store, 'destroy', sid(i)))
    results.json[size] = jsonCost(sess, params.count)
  }
  return results
}

/** 64 calls in flight: 80% get, 15% touch, 5% set over 1,000 sessions. */
async function runConcurrent() {
  const { sessions, inFlight, durationMs } = params
  const warmCalls = await warm()
  const sess = sessionOfSize(1024)
  const sid = (i) => `conc-${kind}-${i}`
  for (let i = 0; i < sessions; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, sessions - i) }, (_, j) => call(store, 'set', sid(i + j), sess)),
    )
  }
  let seed = 42
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed / 2147483648
  }
  const latencies = []
  const cpu0 = process.cpuUsage()
  const elu0 = performance.eventLoopUtilization()
  const started = performance.now()
  const deadline = started + durationMs
  const lane = async () => {
    while (performance.now() < deadline) {
      const r = random()
      const id = sid(Math.floor(random() * sessions))
      const t0 = performance.now()
      if (r < 0.8) await call(store, 'get', id)
      else if (r < 0.95) await call(store, 'touch', id, sess)
      else await call(store, 'set', id, sess)
      latencies.push(performance.now() - t0)
    }
  }
  await Promise.all(Array.from({ length: inFlight }, lane))
  const elapsed = performance.now() - started
  const cpu = cpuMicros(cpu0)
  const elu = performance.eventLoopUtilization(elu0).utilization
  latencies.sort((a, b) => a - b)
  return {
    opsPerSec: (latencies.length / elapsed) * 1000,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuUs: cpu / latencies.length,
    elu,
    warmCalls,
  }
}

/** CPU per get as the table grows: it must not depend on how many sessions are stored. */
async function runScale() {
  const sess = sessionOfSize(1024)
  const sid = (i) => `scale-${kind}-${i}`
  const results = {}
  await warm()
  let stored = 0
  for (const target of params.counts) {
    for (; stored < target; stored += 64) {
      await Promise.all(
        Array.from({ length: Math.min(64, target - stored) }, (_, j) => call(store, 'set', sid(stored + j), sess)),
      )
    }
    stored = target
    let seed = 7
    const pick = () => {
      seed = (seed * 48271) % 2147483647
      return sid(seed % target)
    }
    for (let i = 0; i < 50; i++) await call(store, 'get', pick())
    results[target] = await sequential(params.gets, () => call(store, 'get', pick()))
  }
  return results
}

/** The same minimal express-session app for each store; the parent drives it. */
async function runExpress() {
  const express = require('express')
  const session = require('express-session')
  const app = express()
  app.use(session({ store, secret: 'bench', resave: false, saveUninitialized: false, cookie: { maxAge: 3_600_000 } }))
  app.post('/login', (req, res) => {
    req.session.user = 'user-0001'
    req.session.data = sessionOfSize(1024).cart
    res.end('ok')
  })
  app.get('/', (req, res) => res.end(req.session.user || 'anonymous'))
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  let cpu0
  process.on('message', (msg) => {
    if (msg === 'start') cpu0 = process.cpuUsage()
    if (msg === 'stop') process.send({ cpuUs: cpuMicros(cpu0) })
  })
  process.send({ port: server.address().port })
  await new Promise((resolve) => process.once('disconnect', resolve))
  server.close()
  return null
}

const scenarios = { sequential: runSequential, concurrent: runConcurrent, scale: runScale, express: runExpress }

scenarios[scenario]()
  .then((result) => {
    if (result) process.send({ result })
  })
  .catch((err) => process.send({ error: `${err.code || ''} ${err.stack || err}` }))
  .finally(() => {
    if (store.close) store.close(() => {})
    if (store.clearInterval) store.clearInterval()
    if (store.client && kind === 'cd') store.client.destroy()
    setTimeout(() => process.exit(0), 50).unref()
  })
