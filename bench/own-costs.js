'use strict'

// npm run bench:own: what the stores themselves cost, against a stand-in for
// DynamoDB that answers at once from memory (bench/stub-dynamodb.js) instead
// of DynamoDB Local, which shares the machine's two cores and whose writes
// take a lock that a fast client's reads keep busy. The scenarios are those
// of `npm run bench`: sequential calls on 1 KB sessions (CPU per call, and
// the kernel's share of it), and 64 in flight (80% get, 15% touch, 5% set
// over 1,000 sessions). Each store in its own process, warmed until its CPU
// per call settles; rounds rotate which goes first. Prints its tables and
// writes bench/results/own.md. QUICK=1: a smoke run that writes nothing.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { fork } = require('node:child_process')
const { STORES, QUIET } = require('./stores')

const QUICK = process.env.QUICK === '1'
const ROUNDS = QUICK ? 1 : 5
// BENCH_BASELINE=<dir of a copy of this package>: that build runs beside this one, on both carriers.
// BENCH_KINDS=rs,rs-otel,cd-otel: these stores instead, with cd and js, the tables' references
// (bench/stores.js names them all).
const KINDS = process.env.BENCH_KINDS
  ? [...new Set([...process.env.BENCH_KINDS.split(','), 'cd', 'js'])]
  : ['rs', 'rs-node', ...(process.env.BENCH_BASELINE ? ['base', 'base-node'] : []), 'cd', 'js']
const WARM = QUICK ? { batch: 100, min: 200, max: 400 } : { batch: 200, min: 2000, max: 12000 }
const CONCURRENT = { sessions: 1000, inFlight: 64, durationMs: QUICK ? 1000 : 5000, warm: WARM }
const SEQUENTIAL = { sizes: [1024], count: QUICK ? 100 : 2000, warm: WARM }
const OPS = ['get', 'set', 'touch', 'destroy']

function child(file, args, env) {
  return fork(path.join(__dirname, file), args, { env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
}

function inWorker(kind, scenario, params, env) {
  return new Promise((resolve, reject) => {
    const worker = child('worker.js', [kind, scenario], { ...env, BENCH_PARAMS: JSON.stringify(params) })
    worker.on('message', (msg) => (msg.error ? reject(new Error(msg.error)) : msg.result && resolve(msg.result)))
    worker.on('exit', (code) => code && reject(new Error(`${kind} worker exited (${code})`)))
  })
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function main() {
  const stub = child('stub-dynamodb.js', [], process.env)
  try {
    const { endpoint } = await new Promise((resolve) => stub.once('message', resolve))
    const env = {
      ...process.env,
      ...QUIET,
      BENCH_ENDPOINT: endpoint,
      BENCH_TABLE: 'bench-sessions',
      AWS_EC2_METADATA_DISABLED: 'true',
    }
    const results = Object.fromEntries(KINDS.map((kind) => [kind, []]))
    const serial = Object.fromEntries(KINDS.map((kind) => [kind, []]))
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of KINDS.map((_, i) => KINDS[(i + round) % KINDS.length])) {
        process.stderr.write(`round ${round + 1}/${ROUNDS}: ${STORES[kind]}\n`)
        serial[kind].push(await inWorker(kind, 'sequential', SEQUENTIAL, env))
        results[kind].push(await inWorker(kind, 'concurrent', CONCURRENT, env))
      }
    }
    const cpu = (kind, op) => median(serial[kind].map((r) => r[`${op} 1024`].cpuUs))
    const kernel = (kind, op) => median(serial[kind].map((r) => r[`${op} 1024`].sysUs))
    const range = (kind, op) => {
      const values = serial[kind].map((r) => r[`${op} 1024`].cpuUs)
      return `${Math.round(Math.min(...values))}–${Math.round(Math.max(...values))}`
    }
    const lines = [
      `\`${QUICK ? 'QUICK=1 ' : ''}npm run bench:own\`: against a DynamoDB stand-in that answers at once (bench/stub-dynamodb.js); medians of ${ROUNDS} round(s), each store warmed until its CPU per call settled. CPU is the whole process, per call; the kernel's share is its system time.`,
      `Machine: ${os.cpus().length} × ${os.cpus()[0].model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}. rs = connect-dynamodb-rs on its own sockets, rs-node = the same on Node's sockets${process.env.BENCH_BASELINE ? ', base/base-node = the baseline build (BENCH_BASELINE) on each' : ''}, cd = connect-dynamodb 3.0.5, js = the hand-written JS store (bench/js-store.js)${KINDS.some((kind) => kind.endsWith('-otel')) ? '; -otel = the same traced with OpenTelemetry (its SDK, every span exported to a sink that drops them)' : ''}.`,
      '',
      '**Sequential**, 1 KB session',
      '',
      '| op | store | CPU µs | range | × cd | × js | of it in the kernel |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
      ...OPS.flatMap((op) =>
        KINDS.map(
          (kind) =>
            `| ${op} | ${kind} | ${Math.round(cpu(kind, op))} | ${range(kind, op)} | ${(cpu(kind, op) / cpu('cd', op)).toFixed(2)}× | ${(cpu(kind, op) / cpu('js', op)).toFixed(2)}× | ${Math.round(kernel(kind, op))} |`,
        ),
      ),
      '',
      `**64 in flight** (80% get, 15% touch, 5% set over 1,000 sessions of 1 KB; ${CONCURRENT.durationMs} ms a round)`,
      '',
    ]
    const pick = (kind, key) => median(results[kind].map((r) => r[key]))
    lines.push(
      '| store | ops/s | p50 ms | p99 ms | CPU µs per op | p99 × cd | ops/s × cd |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    )
    for (const kind of KINDS) {
      const p99 = pick(kind, 'p99')
      const ops = pick(kind, 'opsPerSec')
      lines.push(
        `| ${kind} | ${Math.round(ops)} | ${pick(kind, 'p50').toFixed(2)} | ${p99.toFixed(2)} | ${Math.round(pick(kind, 'cpuUs'))} | ${(p99 / pick('cd', 'p99')).toFixed(2)}× | ${(ops / pick('cd', 'opsPerSec')).toFixed(2)}× |`,
      )
    }
    const report = `${lines.join('\n')}\n`
    process.stdout.write(report)
    const file = process.env.BENCH_KINDS ? `own-${process.env.BENCH_KINDS.split(',').join('+')}.md` : 'own.md'
    if (!QUICK) fs.writeFileSync(path.join(__dirname, 'results', file), report)
  } finally {
    stub.kill()
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
