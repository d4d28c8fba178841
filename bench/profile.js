'use strict'

// A tight loop of one operation on one store, to run under a profiler:
//   BENCH_ENDPOINT=... perf record -g node --perf-basic-prof bench/profile.js rs get 1024 5000
// Prints CPU µs per operation (whole process).

const { createStore, call, sessionOfSize } = require('./stores')

const [kind = 'rs', op = 'get', size = '1024', count = '2000'] = process.argv.slice(2)
const store = createStore(kind, {
  endpoint: process.env.BENCH_ENDPOINT,
  table: process.env.BENCH_TABLE || 'bench-sessions',
})
const sess = sessionOfSize(Number(size))
const sid = (i) => `profile-${kind}-${i % 100}`

async function main() {
  for (let i = 0; i < 100; i++) await call(store, 'set', sid(i), sess)
  const args = (i) => (op === 'get' || op === 'destroy' ? [sid(i)] : [sid(i), sess])
  for (let i = 0; i < 200; i++) await call(store, op, ...args(i))
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < Number(count); i++) await call(store, op, ...args(i))
  const { user, system } = process.cpuUsage(cpu0)
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6
  console.log(
    JSON.stringify({
      kind,
      op,
      size: Number(size),
      cpuUsPerOp: (user + system) / Number(count),
      wallMsPerOp: wallMs / Number(count),
    }),
  )
  process.exit(0)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
