'use strict'

// Cold start: from process start to the first completed get, as a fresh
// Lambda or container sees it (module load, client setup, DescribeTable, get).
const { performance } = require('node:perf_hooks')
const { createStore, call } = require('./stores')

const store = createStore(process.argv[2], { endpoint: process.env.BENCH_ENDPOINT, table: process.env.BENCH_TABLE })
call(store, 'get', 'cold-start').then(
  () => {
    process.stdout.write(JSON.stringify({ ms: performance.now() }))
    process.exit(0)
  },
  (err) => {
    process.stderr.write(String(err.stack || err))
    process.exit(1)
  },
)
