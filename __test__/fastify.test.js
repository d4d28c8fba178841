'use strict'

// @fastify/session end to end with its defaults (rolling: true,
// saveUninitialized: true), which save the whole session on every response.
// The flows run in a child process: see fixtures/fastify-flows.js.
const { execFile } = require('node:child_process')
const path = require('node:path')

const run = (flow) =>
  new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      [path.join(__dirname, 'fixtures', 'fastify-flows.js'), flow],
      { env: process.env },
      (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(JSON.parse(stdout))),
    ),
  )

test('sessions work, and unchanged saves are not sent as whole items', async () => {
  const { first, changes, reads, stats, storedVisits } = await run('defaults')
  expect(first.visits).toBe(0)
  expect(changes).toEqual([1, 2])
  expect(reads).toEqual(Array(5).fill({ visits: 2, sessionId: first.sessionId }))
  expect(storedVisits).toBe(2)
  // The new session and the 2 changes were written whole; the 5 unchanged responses became touches.
  expect(stats.operations.set).toBe(3)
  expect(stats.downgradedSets).toBe(5)
}, 30_000)

test('with touchAfter, unchanged responses send nothing', async () => {
  const { stats } = await run('touchAfter')
  expect(stats).toMatchObject({ skippedWrites: 5, downgradedSets: 0, operations: { set: 1, touch: 0 } })
}, 30_000)

test('a session kept alive by touches is not regenerated when its first cookie expiry passes', async () => {
  const { ids, storedCookieExpires, now } = await run('keptAlive')
  expect(new Set(ids).size).toBe(1)
  // The stored payload still carries the first expiry, long past: only `expires` moved.
  expect(Date.parse(storedCookieExpires)).toBeLessThan(now)
}, 30_000)
