'use strict'

// npm run bench: connect-dynamodb-rs against connect-dynamodb 3.0.5 and a
// hand-written JS store (bench/js-store.js) in one run, on one DynamoDB Local
// this script starts. Each store runs in its own child process, warmed until
// its CPU per call settles; the three alternate over several rounds, and
// medians are reported with the spread of the rounds.
// QUICK=1 runs a short version (a smoke check; its numbers mean little).

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const http = require('node:http')
const { fork, execFile } = require('node:child_process')
const { startDynamoDBLocal } = require('../support/dynamodb-local')
const { createStore, call, STORES, QUIET } = require('./stores')
const { summarize, spreadOf, markdown, svgChart, scaleMarkdown } = require('./report')

const QUICK = process.env.QUICK === '1'
const CONFIG = QUICK
  ? {
      rounds: 1,
      sizes: [200, 1024, 65536],
      count: 30,
      warm: { batch: 50, min: 100, max: 200 },
      concurrent: { sessions: 200, inFlight: 64, durationMs: 1500 },
      express: { seconds: 2, warmSeconds: 1, connections: 32 },
      colds: 1,
      scale: { counts: [100, 1000], gets: 50 },
    }
  : {
      rounds: 5,
      sizes: [200, 1024, 65536],
      count: 300,
      warm: { batch: 200, min: 2000, max: 12000 },
      concurrent: { sessions: 1000, inFlight: 64, durationMs: 8000 },
      express: { seconds: 8, warmSeconds: 4, connections: 32 },
      colds: 3,
      scale: { counts: [1000, 10000], gets: 500 },
    }
const KINDS = ['rs', 'cd', 'js']
const OUT =
  process.env.BENCH_OUT || (QUICK ? fs.mkdtempSync(path.join(os.tmpdir(), 'bench-')) : path.join(__dirname, 'results'))
const TABLE = 'bench-sessions'

function inWorker(kind, scenario, env, params) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'worker.js'), [kind, scenario], {
      env: { ...env, BENCH_PARAMS: JSON.stringify(params) },
    })
    child.on('message', (msg) => (msg.error ? reject(new Error(msg.error)) : msg.result && resolve(msg.result)))
    child.on('exit', (code) => reject(new Error(`${kind} ${scenario} worker exited (${code})`)))
  })
}

function run(file, args, env) {
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      [path.join(__dirname, file), ...args],
      { env, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(JSON.parse(stdout))),
    ),
  )
}

function login(port) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/login', method: 'POST' }, (res) => {
      res.resume()
      resolve(res.headers['set-cookie'][0].split(';')[0])
    })
    req.on('error', reject)
    req.end()
  })
}

/** The express app in a worker, autocannon in another process, CPU counted by the server. */
async function expressRun(kind, env) {
  const child = fork(path.join(__dirname, 'worker.js'), [kind, 'express'], { env })
  const next = () => new Promise((resolve) => child.once('message', resolve))
  const { port } = await next()
  const url = `http://127.0.0.1:${port}/`
  const cookie = await login(port)
  const { seconds, warmSeconds, connections } = CONFIG.express
  await run('load.js', [url, cookie, String(warmSeconds), String(connections)], env) // warm-up
  child.send('start')
  const load = await run('load.js', [url, cookie, String(seconds), String(connections)], env)
  child.send('stop')
  const { cpuUs } = await next()
  child.disconnect()
  if (load.errors > 0) throw new Error(`${kind}: ${load.errors} failed requests under load`)
  return { rps: load.rps, p50: load.p50, p99: load.p99, cpuUs: cpuUs / load.requests }
}

async function coldStart(kind, env) {
  const times = []
  for (let i = 0; i < CONFIG.colds; i++) times.push((await run('cold.js', [kind], env)).ms)
  return { ms: times.sort((a, b) => a - b)[Math.floor(times.length / 2)] }
}

async function main() {
  const started = Date.now()
  const local = await startDynamoDBLocal()
  const env = {
    ...process.env,
    ...QUIET,
    BENCH_ENDPOINT: local.endpoint,
    BENCH_TABLE: TABLE,
    AWS_EC2_METADATA_DISABLED: 'true',
  }
  const setup = createStore('rs', { endpoint: local.endpoint, table: TABLE })
  await call(setup, 'initialize')
  await call(setup, 'close')

  const rounds = []
  const scale = {}
  const only = process.env.BENCH_ONLY
  try {
    // DynamoDB Local is a JVM: warm its JIT with every store before measuring.
    for (const kind of KINDS) {
      process.stderr.write(`warm-up: ${STORES[kind]}\n`)
      await inWorker(kind, 'sequential', env, { sizes: CONFIG.sizes, count: QUICK ? 30 : 150, warm: CONFIG.warm })
      await inWorker(kind, 'concurrent', env, {
        ...CONFIG.concurrent,
        durationMs: QUICK ? 500 : 2000,
        warm: CONFIG.warm,
      })
    }
    for (let r = 0; r < (only ? 0 : CONFIG.rounds); r++) {
      // Each round starts with another store, so drift over the run falls on each in turn.
      const order = KINDS.map((_, i) => KINDS[(i + r) % KINDS.length])
      const round = {}
      for (const kind of order) {
        process.stderr.write(`round ${r + 1}/${CONFIG.rounds}: ${STORES[kind]}\n`)
        round[kind] = {
          sequential: await inWorker(kind, 'sequential', env, {
            sizes: CONFIG.sizes,
            count: CONFIG.count,
            warm: CONFIG.warm,
          }),
          concurrent: await inWorker(kind, 'concurrent', env, { ...CONFIG.concurrent, warm: CONFIG.warm }),
          express: await expressRun(kind, env),
          cold: await coldStart(kind, env),
        }
      }
      // The floor of the express table: the same app on express-session's MemoryStore.
      process.stderr.write(`round ${r + 1}/${CONFIG.rounds}: ${STORES.memory}\n`)
      round.memory = { express: await expressRun('memory', env) }
      rounds.push(round)
    }
    if (!only || only === 'scale') {
      for (const kind of KINDS) {
        process.stderr.write(`scale: ${STORES[kind]}\n`)
        scale[kind] = await inWorker(kind, 'scale', env, { ...CONFIG.scale, warm: CONFIG.warm })
      }
    }
  } finally {
    await local.stop()
  }

  if (only) {
    process.stdout.write(scaleMarkdown(scale))
    return
  }
  const summary = { ...summarize(rounds), spread: spreadOf(rounds), scale }
  const meta = {
    date: new Date().toISOString(),
    quick: QUICK,
    config: CONFIG,
    machine: `${os.cpus().length} × ${os.cpus()[0].model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, DynamoDB Local on the same machine`,
    seconds: Math.round((Date.now() - started) / 1000),
  }
  fs.mkdirSync(OUT, { recursive: true })
  fs.writeFileSync(path.join(OUT, 'results.json'), `${JSON.stringify({ meta, summary, rounds }, null, 2)}\n`)
  const table = markdown(summary, meta)
  fs.writeFileSync(path.join(OUT, 'results.md'), table)
  fs.writeFileSync(path.join(OUT, 'chart.svg'), svgChart(summary))
  process.stdout.write(`${table}\nWritten to ${path.relative(process.cwd(), OUT) || OUT}\n`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
