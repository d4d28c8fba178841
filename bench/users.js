'use strict'

// npm run bench:users: what the user index costs. Saves with and without
// `userPath` (alternating, same process, same DynamoDB Local), and the user
// methods for a login (3 sessions) and for a user with 1,000 sessions.
// QUICK=1 runs a short version. Writes bench/results/users.md.

const fs = require('node:fs')
const path = require('node:path')
const session = require('express-session')
const { startDynamoDBLocal } = require('../support/dynamodb-local')

const QUICK = process.env.QUICK === '1'
const CONFIG = QUICK
  ? { rounds: 1, saves: 20, logins: 5, bulk: 100 }
  : { rounds: 5, saves: 300, logins: 50, bulk: 1000 }
const DynamoDBStore = require('..')(session)

const sessionOf = (user) => ({
  cookie: {
    originalMaxAge: 3_600_000,
    expires: new Date(Date.now() + 3_600_000).toISOString(),
    httpOnly: true,
    path: '/',
  },
  passport: { user },
  cart: Array.from({ length: 8 }, (_, i) => ({ sku: `sku-${i}`, qty: i })),
})

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/** Median wall time (ms) and mean process CPU (µs) per call of `op(i)`, run one at a time. */
async function measure(count, op) {
  const times = []
  const cpu = process.cpuUsage()
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint()
    await op(i)
    times.push(Number(process.hrtime.bigint() - start) / 1e6)
  }
  const used = process.cpuUsage(cpu)
  return { p50: median(times), cpu: (used.user + used.system) / count }
}

async function main() {
  const local = await startDynamoDBLocal()
  const connection = { endpoint: local.endpoint, region: 'us-east-1', accessKeyId: 'bench', secretAccessKey: 'bench' }
  const plain = new DynamoDBStore({ table: 'bench-users-plain', AWSConfigJSON: connection })
  const users = new DynamoDBStore({ table: 'bench-users', AWSConfigJSON: connection, userPath: 'passport.user' })
  try {
    await Promise.all([plain.initialize(), users.initialize()])
    const rows = { first: { plain: [], users: [] }, again: { plain: [], users: [] } }
    for (let round = 0; round < CONFIG.rounds; round++) {
      for (const [name, store] of round % 2
        ? [
            ['users', users],
            ['plain', plain],
          ]
        : [
            ['plain', plain],
            ['users', users],
          ]) {
        const sid = (i) => `r${round}-${i}`
        rows.first[name].push(await measure(CONFIG.saves, (i) => store.set(sid(i), sessionOf(`user-${round}-${i}`))))
        rows.again[name].push(await measure(CONFIG.saves, (i) => store.set(sid(i), sessionOf(`user-${round}-${i}`))))
      }
    }

    const login = await measure(CONFIG.logins, async (i) => {
      for (const device of ['a', 'b']) await users.set(`login-${i}-${device}`, sessionOf(`login-user-${i}`))
      await users.set(`login-${i}-c`, sessionOf(`login-user-${i}`))
      const ended = await users.destroyOtherSessionsForUser(`login-user-${i}`, `login-${i}-c`)
      if (ended !== 2) throw new Error(`expected 2 sessions ended, got ${ended}`)
    })
    const loginDestroy = await measure(CONFIG.logins, async (i) => {
      await users.set(`again-${i}-a`, sessionOf(`again-user-${i}`))
      return users.destroyOtherSessionsForUser(`again-user-${i}`, `again-${i}-b`)
    })

    for (let i = 0; i < CONFIG.bulk; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, CONFIG.bulk - i) }, (_, j) =>
          users.set(`bulk-${i + j}`, sessionOf('bulk-user')),
        ),
      )
    }
    const listStart = process.hrtime.bigint()
    const listed = await users.listSessionsForUser('bulk-user')
    const listMs = Number(process.hrtime.bigint() - listStart) / 1e6
    const destroyStart = process.hrtime.bigint()
    const destroyed = await users.destroyAllSessionsForUser('bulk-user')
    const destroyMs = Number(process.hrtime.bigint() - destroyStart) / 1e6
    if (listed.length !== CONFIG.bulk || destroyed !== CONFIG.bulk)
      throw new Error(`bulk: listed ${listed.length}, destroyed ${destroyed}`)

    const cell = (runs, key) => median(runs.map((r) => r[key]))
    const ratio = (a, b) => `${(a / b).toFixed(2)}×`
    const saveRow = (label, pair) => {
      const [pp, up, pc, uc] = [
        cell(pair.plain, 'p50'),
        cell(pair.users, 'p50'),
        cell(pair.plain, 'cpu'),
        cell(pair.users, 'cpu'),
      ]
      return `| ${label} | ${pp.toFixed(2)} ms / ${pc.toFixed(0)} µs | ${up.toFixed(2)} ms / ${uc.toFixed(0)} µs | ${ratio(up, pp)} / ${ratio(uc, pc)} |`
    }
    const report = [
      `Saves (p50 latency / process CPU per call; ${CONFIG.saves} saves × ${CONFIG.rounds} rounds, medians):`,
      '',
      '| save | without userPath | with userPath | ratio |',
      '| --- | --- | --- | --- |',
      saveRow('first save of a logged-in session (registers it)', rows.first),
      saveRow('saving it again (no registry write)', rows.again),
      '',
      'User methods:',
      '',
      '| operation | time |',
      '| --- | --- |',
      `| login: 3 saves + destroyOtherSessionsForUser ending 2 (p50) | ${login.p50.toFixed(2)} ms |`,
      `| destroyOtherSessionsForUser after a save (p50) | ${loginDestroy.p50.toFixed(2)} ms |`,
      `| listSessionsForUser, ${CONFIG.bulk} sessions | ${listMs.toFixed(0)} ms |`,
      `| destroyAllSessionsForUser, ${CONFIG.bulk} sessions | ${destroyMs.toFixed(0)} ms |`,
      '',
    ].join('\n')
    console.log(report)
    if (!QUICK) fs.writeFileSync(path.join(__dirname, 'results', 'users.md'), report)
  } finally {
    await Promise.all([plain.close(), users.close()])
    await local.stop()
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
