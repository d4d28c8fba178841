'use strict'

// DynamoDB itself going away under load: DynamoDB Local (its own, with its
// data on disk) is stopped while 8 workers read and save sessions, and started
// again on the same port. No acknowledged save may be lost, no call may hang,
// and the store must find its way back alone. (bench/faults.js reports the
// same runs with numbers, against connect-dynamodb too.)
const { runUnderFault, CREDENTIALS } = require('../support/fault-run')
const { DynamoDBStore } = require('./helpers')

jest.setTimeout(120_000)

const makeStore = (endpoint, table) =>
  new DynamoDBStore({ table, AWSConfigJSON: { endpoint, region: 'us-east-1', ...CREDENTIALS }, log: () => {} })

// A generous after-phase: a restarted JVM answers slowly at first on a loaded machine.
const TIMES = { healthyMs: 1000, faultMs: 2500, afterMs: 5000 }

test.each([
  ['stopped', 'SIGTERM'],
  ['killed', 'SIGKILL'],
])(
  'DynamoDB Local %s and started again under load: nothing acknowledged is lost, nothing hangs, the store recovers',
  async (_label, signal) => {
    const r = await runUnderFault({ makeStore, fault: { stop: signal }, ...TIMES })
    expect(r.acknowledgedWrites).toBeGreaterThan(50)
    expect(r.acknowledgedLost).toBe(0)
    expect(r.hung).toBe(0)
    expect(r.successRateHealthy).toBe(1)
    // While it is down, calls fail with the store's codes (the breaker opens), never succeed by accident.
    expect(r.successRateDown).toBeLessThan(0.05)
    expect(
      Object.keys(r.downCodes).every((code) => ['ERR_NETWORK', 'ERR_TIMEOUT', 'ERR_STORE_UNAVAILABLE'].includes(code)),
    ).toBe(true)
    expect(r.downCodes.ERR_STORE_UNAVAILABLE).toBeGreaterThan(0)
    expect(r.events).toEqual(['disconnect', 'connect'])
    // Back without help: calls succeed again before the run ends, and keep succeeding.
    expect(r.recoverMs).not.toBeNull()
    expect(r.allHealthyAfterMs).toBeLessThan(TIMES.afterMs)
    expect(r.successRateAfter).toBeGreaterThan(0)
  },
)

test('a network partition (requests never answered) fails calls by the timeout, not never; the store recovers', async () => {
  const r = await runUnderFault({ makeStore, fault: { proxy: { kind: 'blackhole' } }, ...TIMES })
  expect(r.acknowledgedLost).toBe(0)
  expect(r.hung).toBe(0)
  expect(r.downCodes.ERR_TIMEOUT).toBeGreaterThan(0)
  expect(r.events).toEqual(['disconnect', 'connect'])
  expect(r.allHealthyAfterMs).toBeLessThan(TIMES.afterMs)
})
