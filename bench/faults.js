'use strict'

// npm run bench:faults: how this store and connect-dynamodb 3.0.5 behave under
// real faults, in one run: DynamoDB Local stopped (and, separately, killed) and
// started again with its data kept, and a fault proxy that partitions,
// throttles, drops connections mid-response and adds latency. For each: the
// success rate callers see before, during and after, how long a failing call
// takes, how long until calls succeed again, retries sent, and acknowledged
// writes lost. Writes bench/results/faults.md and faults.json.
//
// QUICK=1 runs two short scenarios and writes nothing (a smoke check for CI; it
// asserts nothing).

const fs = require('node:fs')
const path = require('node:path')
const session = require('express-session')
const { DynamoDBClient } = require('@aws-sdk/client-dynamodb')
const { runUnderFault, CREDENTIALS } = require('../support/fault-run')

const QUICK = process.env.QUICK === '1'
const TIMES = QUICK
  ? { healthyMs: 1000, faultMs: 2000, afterMs: 2000 }
  : { healthyMs: 2000, faultMs: 5000, afterMs: 4000 }

const SCENARIOS = [
  { name: 'DynamoDB Local stopped, then started again', fault: { stop: 'SIGTERM' } },
  { name: 'DynamoDB Local killed (SIGKILL), then started again', fault: { stop: 'SIGKILL' }, full: true },
  { name: 'network partition (requests never answered)', fault: { proxy: { kind: 'blackhole' } }, full: true },
  {
    name: 'throttling on 30% of requests',
    fault: { proxy: { kind: 'throttle', rate: 0.3 } },
    also: ['connect-dynamodb-rs, maxRetries 5'],
  },
  {
    name: 'connection dropped mid-response on 10% of requests',
    fault: { proxy: { kind: 'drop', rate: 0.1 } },
    full: true,
  },
  { name: '+300 ms latency on 20% of requests', fault: { proxy: { kind: 'latency', ms: 300, rate: 0.2 } }, full: true },
].filter((scenario) => !QUICK || !scenario.full)

const STORES = {
  'connect-dynamodb-rs': (endpoint, table) => {
    const DynamoDBStore = require('..')(session)
    return new DynamoDBStore({ table, AWSConfigJSON: { endpoint, region: 'us-east-1', ...CREDENTIALS }, log: () => {} })
  },
  'connect-dynamodb-rs, maxRetries 5': (endpoint, table) => {
    const DynamoDBStore = require('..')(session)
    return new DynamoDBStore({
      table,
      maxRetries: 5,
      AWSConfigJSON: { endpoint, region: 'us-east-1', ...CREDENTIALS },
      log: () => {},
    })
  },
  'connect-dynamodb 3.0.5': (endpoint, table) => {
    const DynamoDBStore = require('connect-dynamodb')(session)
    const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: CREDENTIALS })
    return new DynamoDBStore({ table, client })
  },
}

const percent = (rate) => (rate === null ? '—' : rate === 1 ? '100%' : `${(rate * 100).toFixed(2)}%`)
const ms = (value) => (value === null ? '—' : `${value} ms`)

function table(results) {
  const lines = [
    '| scenario | store | calls/s | success before / during / after | failing call p50 / max | first success after heal | all calls succeed after | retries | calls hung (> 15 s) | acknowledged writes lost |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ]
  for (const { scenario, store, r } of results) {
    lines.push(
      `| ${scenario} | ${store} | ${Math.round(r.callsPerSecond)} | ${percent(r.successRateHealthy)} / ${percent(r.successRateDown)} / ${percent(r.successRateAfter)} | ` +
        `${ms(r.failDownP50Ms)} / ${ms(r.failDownMaxMs)} | ${ms(r.recoverMs)} | ${ms(r.allHealthyAfterMs)} | ${r.retries ?? 'not reported'} | ${r.hung} | **${r.acknowledgedLost}** of ${r.acknowledgedWrites} |`,
    )
  }
  return lines.join('\n')
}

async function main() {
  const results = []
  for (const scenario of SCENARIOS) {
    // Alternate which store goes first, so neither always meets a fresh JVM.
    const order = ['connect-dynamodb-rs', 'connect-dynamodb 3.0.5']
    if (results.length % 4 === 2) order.reverse()
    order.push(...(scenario.also || []))
    for (const store of order) {
      process.stderr.write(`${scenario.name} — ${store}\n`)
      const r = await runUnderFault({ makeStore: STORES[store], fault: scenario.fault, ...TIMES })
      results.push({ scenario: scenario.name, store, r })
    }
  }
  const restarts = results.filter(({ r }) => r.restartMs > 0).map(({ r }) => r.restartMs)
  const report = [
    '# Faults under load',
    '',
    `Command: \`${QUICK ? 'QUICK=1 ' : ''}npm run bench:faults\`. Each run: 8 workers, each owning 4 sessions and`,
    "alternating `get` and `set` (one call at a time, 5 ms apart), through express-session's",
    `callback API. ${TIMES.healthyMs / 1000} s healthy, ${TIMES.faultMs / 1000} s of fault, ${TIMES.afterMs / 1000} s after the heal.`,
    'A stopped DynamoDB Local keeps its data on disk (`-dbPath`) and is started again on the same',
    `port; it takes ${Math.min(...restarts)}–${Math.max(...restarts)} ms to answer again, not counted in "after heal".`,
    'This store runs with its defaults (timeout 2 s, 3 retries, circuit breaker after 5 outage errors,',
    "probe every 250 ms); connect-dynamodb with the AWS SDK's defaults (no timeout).",
    '"During" counts the calls that ended after the fault began and started before the heal;',
    '"—" means there were none (every worker was stuck in a call).',
    "An acknowledged write is lost when the session's stored counter, read after the run, is below",
    'the last save its worker saw succeed.',
    '',
    table(results),
    '',
  ].join('\n')
  if (!QUICK) {
    const dir = path.join(__dirname, 'results')
    fs.writeFileSync(path.join(dir, 'faults.md'), report)
    fs.writeFileSync(path.join(dir, 'faults.json'), `${JSON.stringify(results, null, 2)}\n`)
  }
  process.stdout.write(`${report}\n`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
