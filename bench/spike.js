'use strict'

// npm run bench:spike: one GetItem (1 KB session) through each design, in one
// run on one DynamoDB Local, each contender in its own process, warmed until
// its CPU per call settles, rounds alternating between contenders:
//
//   rs      this store: the engine (the Rust core builds, signs and reads each
//           call in turns on Node's thread, on its own sockets polled by libuv;
//           CONNECT_DYNAMODB_RS_TRANSPORT=node puts it on Node's sockets)
//   js      the hand-written JS store (bench/js-store.js) on node:http
//   js-net  the same JS store on a minimal HTTP/1.1 reader (bench/raw-http.js)
//   cd      connect-dynamodb 3.0.5 (AWS SDK v3)
//
// The spike that chose the engine also measured "sansio" (its prototype) and
// "floor" (the transport alone); docs/performance.md keeps those numbers.
//
// Reported per contender: CPU per call (whole process, user + system) as the
// median and range of the rounds, and with 64 calls in flight: throughput,
// p50, p99 and CPU per call. QUICK=1 runs a short version (a smoke check).
// `--loop <contender> <calls>` runs one contender alone, for a profiler.

const { fork } = require('node:child_process')
const { performance } = require('node:perf_hooks')

const QUICK = process.env.QUICK === '1'
const CONFIG = QUICK
  ? { rounds: 1, calls: 200, warm: { batch: 200, min: 400, max: 1000 }, inFlight: 64, concurrentMs: 1000 }
  : { rounds: 5, calls: 2000, warm: { batch: 500, min: 3000, max: 20000 }, inFlight: 64, concurrentMs: 4000 }
const CONTENDERS = ['rs', 'js', 'js-net', 'cd']
const SESSIONS = 200
const sid = (i) => `spike-${i % SESSIONS}`
const CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'bench' }

// ---- in a contender's process ------------------------------------------------

function contender(kind, endpoint, table) {
  if (kind === 'rs' || kind === 'cd') {
    const { createStore } = require('./stores')
    const store = createStore(kind, { endpoint, table })
    return { get: (id, cb) => store.get(id, cb), close: () => store.close && store.close(() => {}) }
  }
  if (kind === 'js' || kind === 'js-net') {
    const { JsStore } = require('./js-store')
    const store = new JsStore({ endpoint, table, ...CREDENTIALS, transport: kind === 'js-net' ? 'net' : 'http' })
    return { get: (id, cb) => store.get(id, cb), close: () => store.close() }
  }
  throw new Error(`unknown contender ${kind}`)
}

const cpuUs = (since) => {
  const { user, system } = process.cpuUsage(since)
  return user + system
}
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]

function sequential(store, calls, offset = 0) {
  return new Promise((resolve, reject) => {
    const cpu0 = process.cpuUsage()
    let i = 0
    const next = () => {
      if (i === calls) return resolve(cpuUs(cpu0) / calls)
      store.get(sid(offset + i++), (err, sess) => {
        if (err) return reject(err)
        if (!sess || !sess.cookie) return reject(new Error('a get found no session'))
        next()
      })
    }
    next()
  })
}

/** Warms until two batches in a row cost within 5% of each other. */
async function warm(store) {
  const { batch, min, max } = CONFIG.warm
  let done = 0
  let last = Infinity
  for (;;) {
    const perCall = await sequential(store, batch, done)
    done += batch
    if (done >= max || (done >= min && Math.abs(perCall - last) / last < 0.05)) return { calls: done, cpuUs: perCall }
    last = perCall
  }
}

async function concurrent(store) {
  const latencies = []
  const cpu0 = process.cpuUsage()
  const started = performance.now()
  const deadline = started + CONFIG.concurrentMs
  let n = 0
  const lane = () =>
    new Promise((resolve, reject) => {
      const next = () => {
        if (performance.now() >= deadline) return resolve()
        const t0 = performance.now()
        store.get(sid(n++), (err) => {
          if (err) return reject(err)
          latencies.push(performance.now() - t0)
          next()
        })
      }
      next()
    })
  await Promise.all(Array.from({ length: CONFIG.inFlight }, lane))
  const elapsed = performance.now() - started
  latencies.sort((a, b) => a - b)
  return {
    opsPerSec: (latencies.length / elapsed) * 1000,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuUs: cpuUs(cpu0) / latencies.length,
  }
}

function runContender(kind) {
  const store = contender(kind, process.env.SPIKE_ENDPOINT, process.env.SPIKE_TABLE)
  process.on('message', async (msg) => {
    try {
      if (msg === 'warm') process.send({ warmed: await warm(store) })
      if (msg === 'sequential') process.send({ cpuUs: await sequential(store, CONFIG.calls) })
      if (msg === 'concurrent') process.send({ concurrent: await concurrent(store) })
      if (msg === 'exit') {
        store.close()
        setTimeout(() => process.exit(0), 50)
      }
    } catch (err) {
      process.send({ error: String(err && err.stack ? err.stack : err) })
    }
  })
  process.send({ ready: true })
}

// ---- the parent ---------------------------------------------------------------

function ask(child, msg) {
  return new Promise((resolve, reject) => {
    child.once('message', (reply) => (reply.error ? reject(new Error(reply.error)) : resolve(reply)))
    child.send(msg)
  })
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const range = (xs) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`

async function main() {
  const { startDynamoDBLocal } = require('../support/dynamodb-local')
  const local = await startDynamoDBLocal()
  const table = 'spike-sessions'
  const children = []
  try {
    const { createStore, call, sessionOfSize, QUIET } = require('./stores')
    const seeder = createStore('rs', { endpoint: local.endpoint, table })
    const sess = sessionOfSize(1024)
    sess.cookie.expires = new Date(Date.now() + 3_600_000).toISOString()
    for (let i = 0; i < SESSIONS; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => call(seeder, 'set', sid(i + j), sess)))
    }
    await new Promise((resolve) => seeder.close(resolve))
    const env = {
      ...process.env,
      ...QUIET,
      SPIKE_ENDPOINT: local.endpoint,
      SPIKE_TABLE: table,
      AWS_EC2_METADATA_DISABLED: 'true',
    }
    for (const kind of CONTENDERS) {
      const child = fork(__filename, ['--contender', kind], { env })
      await new Promise((resolve) => child.once('message', resolve))
      children.push({ kind, child, seq: [], conc: [] })
    }
    for (const c of children) c.warmed = (await ask(c.child, 'warm')).warmed
    for (let round = 0; round < CONFIG.rounds; round++) {
      for (const c of children) c.seq.push((await ask(c.child, 'sequential')).cpuUs)
      for (const c of children) c.conc.push((await ask(c.child, 'concurrent')).concurrent)
    }
    report(children)
  } finally {
    for (const { child } of children) child.kill()
    await local.stop()
  }
}

function report(children) {
  const cd = children.find((c) => c.kind === 'cd')
  const js = children.find((c) => c.kind === 'js')
  const rows = children.map((c) => {
    const cpu = median(c.seq)
    const pick = (key) => median(c.conc.map((r) => r[key]))
    return {
      kind: c.kind,
      warmCalls: c.warmed.calls,
      cpu,
      range: range(c.seq),
      ops: pick('opsPerSec'),
      p50: pick('p50'),
      p99: pick('p99'),
      concCpu: pick('cpuUs'),
    }
  })
  const [cdRow, jsRow] = [rows.find((r) => r.kind === cd.kind), rows.find((r) => r.kind === js.kind)]
  console.log(
    `\nGetItem, 1 KB session, ${CONFIG.rounds} rounds of ${CONFIG.calls} sequential calls; ${CONFIG.inFlight} in flight for ${CONFIG.concurrentMs} ms`,
  )
  console.log(
    '| contender | warm-up calls | CPU/call µs (median, range) | vs cd | vs js | 64 in flight ops/s | p50 ms | p99 ms | CPU/call µs |',
  )
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const r of rows) {
    console.log(
      `| ${r.kind} | ${r.warmCalls} | ${r.cpu.toFixed(0)} (${r.range}) | ${(r.cpu / cdRow.cpu).toFixed(2)}× | ${(r.cpu / jsRow.cpu).toFixed(2)}× | ${r.ops.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.concCpu.toFixed(0)} |`,
    )
  }
}

/** `--loop <contender> <calls>`: one contender's warmed get loop alone, for a profiler (SPIKE_ENDPOINT, SPIKE_TABLE). */
async function loop(kind, calls) {
  const store = contender(kind, process.env.SPIKE_ENDPOINT, process.env.SPIKE_TABLE)
  await warm(store)
  console.log(JSON.stringify({ kind, cpuUs: await sequential(store, calls) }))
  store.close()
  setTimeout(() => process.exit(0), 50)
}

if (process.argv[2] === '--contender') runContender(process.argv[3])
else if (process.argv[2] === '--loop') loop(process.argv[3], Number(process.argv[4] || 20000))
else
  main().catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
