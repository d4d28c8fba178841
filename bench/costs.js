'use strict'

// npm run bench:costs: what sessions cost in DynamoDB capacity, as DynamoDB
// reports it (ReturnConsumedCapacity), for connect-dynamodb 3.0.5 and this
// store, in one run against one DynamoDB Local. Writes bench/results/costs.md.
//
// 1. Traffic: real express-session, @fastify/session, koa-session and
//    hono-sessions apps (the last two on connect-dynamodb-rs/koa and /hono,
//    which connect-dynamodb cannot serve) serve browsers
//    that each load a page every 10 s, each page making 5 requests, and 1
//    request in 25 changes the ~2 KB session. Time runs 10x fast (a page every
//    1 s, touchAfter 60 s given as 6 s) so the run takes seconds, not minutes;
//    every rule involved compares whole seconds, so the scaling is exact.
// 2. Compression: realistic sessions of 4 KB, 64 KB and 1 MB, plain and compressed.
// 3. Devices: what recording a session's device and times (userPath,
//    sessionMetadata) adds per save and per touch.
//
// QUICK=1 runs a short version (fewer browsers and pages).

const fs = require('node:fs')
const path = require('node:path')
const { promisify } = require('node:util')
const express = require('express')
const session = require('express-session')
const Fastify = require('fastify')
const { DynamoDBClient } = require('@aws-sdk/client-dynamodb')
const ConnectDynamoDB = require('connect-dynamodb')
const { startDynamoDBLocal } = require('../support/dynamodb-local')
const { realisticSession } = require('./sessions')

const QUICK = process.env.QUICK === '1'
const SCALE = 10
const MODEL = {
  browsers: QUICK ? 4 : 10,
  pages: QUICK ? 3 : 20,
  requestsPerPage: 5,
  pageEveryMs: 10_000 / SCALE,
  changeEvery: 50,
}
const TOUCH_AFTER_MS = 60_000 / SCALE
const DynamoDBStore = require('..')(session)
const Theirs = ConnectDynamoDB(session)

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const round = (n, digits = 2) => Number(n.toFixed(digits))

/** A JS SDK client that asks DynamoDB for consumed capacity on every call and adds it up. */
function meteredClient(connection) {
  const client = new DynamoDBClient({
    endpoint: connection.endpoint,
    region: connection.region,
    credentials: { accessKeyId: connection.accessKeyId, secretAccessKey: connection.secretAccessKey },
  })
  client.consumed = { readUnits: 0, writeUnits: 0 }
  client.middlewareStack.add(
    (next, context) => async (args) => {
      args.input.ReturnConsumedCapacity = 'TOTAL'
      const result = await next(args)
      // TOTAL reports CapacityUnits; whether they are read or write units is the operation's.
      const units = /^(Get|BatchGet|Query|Scan)/.test(context.commandName) ? 'readUnits' : 'writeUnits'
      for (const used of [result.output.ConsumedCapacity].flat().filter(Boolean)) {
        client.consumed[units] += used.CapacityUnits || 0
      }
      return result
    },
    { step: 'initialize', name: 'meterCapacity' },
  )
  return client
}

/** The stores compared: each gets its own table, and reports { readUnits, writeUnits }. */
function contenders(connection, label, { theirs: compared = true } = {}) {
  const ours = (name, options) => {
    const store = new DynamoDBStore({ table: `costs-${label}-${name}`, AWSConfigJSON: connection, ...options })
    return { store, consumed: () => store.stats().consumedCapacity, close: () => store.close() }
  }
  const mine = [
    ['connect-dynamodb-rs, defaults', ours('defaults', {})],
    ['connect-dynamodb-rs, touchAfter 60 s', ours('lazy', { touchAfter: TOUCH_AFTER_MS })],
    ['connect-dynamodb-rs, touchAfter 60 s + compress', ours('lazy-z', { touchAfter: TOUCH_AFTER_MS, compress: true })],
  ]
  if (!compared) return mine
  const client = meteredClient(connection)
  const theirs = new Theirs({ table: `costs-${label}-theirs`, client })
  return [
    ['connect-dynamodb 3.0.5', { store: theirs, consumed: () => client.consumed, close: async () => client.destroy() }],
    ...mine,
  ]
}

/** The ~2 KB of data a logged-in browser keeps in its session. */
const sessionData = (browser) => {
  const { cookie, ...data } = realisticSession(2048, `browser-${browser}`)
  return data
}

function expressApp(store) {
  const app = express()
  app.use(session({ store, secret: 'costs bench', resave: false, saveUninitialized: false }))
  app.get('/login/:browser', (req, res) => {
    Object.assign(req.session, sessionData(req.params.browser))
    res.json({ ok: true })
  })
  app.get('/change', (req, res) => {
    req.session.changes = (req.session.changes || 0) + 1
    res.json({ changes: req.session.changes })
  })
  app.get('/read', (req, res) => res.json({ user: req.session.passport && req.session.passport.user }))
  return app
}

function fastifyApp(store) {
  const app = Fastify()
  app.register(require('@fastify/cookie'))
  // @fastify/session's defaults, except a cookie plain HTTP can carry.
  app.register(require('@fastify/session'), {
    store,
    secret: 'costs bench, a secret of at least 32 chars',
    cookie: { secure: false },
  })
  app.get('/login/:browser', async (request) => {
    for (const [key, value] of Object.entries(sessionData(request.params.browser))) request.session.set(key, value)
    return { ok: true }
  })
  app.get('/change', async (request) => {
    request.session.set('changes', (request.session.get('changes') || 0) + 1)
    return { changes: request.session.get('changes') }
  })
  app.get('/read', async (request) => ({ user: (request.session.get('passport') || {}).user }))
  return app
}

/** koa-session (rolling or not) on connect-dynamodb-rs/koa over `store`. */
function koaApp(store, rolling) {
  const Koa = require('koa')
  const { createSession } = require('koa-session')
  const { DynamoDBKoaStore } = require('../koa')
  const app = new Koa()
  app.keys = ['costs bench']
  app.use(createSession({ store: new DynamoDBKoaStore({ store }), maxAge: 86_400_000, rolling }, app))
  app.use((ctx) => {
    const [, route, browser] = ctx.path.split('/')
    if (route === 'login') Object.assign(ctx.session, sessionData(browser))
    if (route === 'change') ctx.session.changes = (ctx.session.changes || 0) + 1
    ctx.body = { user: ctx.session.passport && ctx.session.passport.user }
  })
  return app
}

/** hono-sessions (its defaults: the expiry extended on every request) on connect-dynamodb-rs/hono over `store`. */
function honoApp(store) {
  const { Hono } = require('hono')
  const { sessionMiddleware } = require('hono-sessions')
  const { DynamoDBHonoStore } = require('../hono')
  const app = new Hono()
  app.use('*', sessionMiddleware({ store: new DynamoDBHonoStore({ store }), expireAfterSeconds: 86_400 }))
  app.get('/login/:browser', (c) => {
    for (const [key, value] of Object.entries(sessionData(c.req.param('browser')))) c.get('session').set(key, value)
    return c.json({ ok: true })
  })
  app.get('/change', (c) => {
    const session = c.get('session')
    session.set('changes', (session.get('changes') || 0) + 1)
    return c.json({ changes: session.get('changes') })
  })
  app.get('/read', (c) => c.json({ user: (c.get('session').get('passport') || {}).user }))
  return require('@hono/node-server').createAdaptorServer({ fetch: app.fetch })
}

/** Starts the app on a free port; returns its base URL and a stop function. */
async function listen(framework, store) {
  if (framework === 'fastify') {
    const app = fastifyApp(store)
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    return { url, stop: () => app.close() }
  }
  const made = {
    express: () => expressApp(store),
    koa: () => koaApp(store, false),
    'koa-rolling': () => koaApp(store, true),
    hono: () => honoApp(store),
  }[framework]()
  const server = made.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  return { url: `http://127.0.0.1:${server.address().port}`, stop: () => promisify(server.close.bind(server))() }
}

/** One browser: logs in, then loads pages; returns how many requests it made. */
async function browse(url, browser, startAt) {
  // Every cookie the app sets, by name, as a browser keeps them (koa-session signs its
  // cookie in a second one).
  const jar = new Map()
  let requests = 0
  const request = async (route) => {
    const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ')
    const response = await fetch(url + route, { headers: cookie ? { cookie } : {} })
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const at = pair.indexOf('=')
      jar.set(pair.slice(0, at), pair.slice(at + 1))
    }
    if (!response.ok) throw new Error(`${route}: HTTP ${response.status}`)
    await response.json()
    requests += 1
  }
  for (let page = 0; page < MODEL.pages; page++) {
    await sleep(Math.max(0, startAt + page * MODEL.pageEveryMs - Date.now()))
    for (let call = 0; call < MODEL.requestsPerPage; call++) {
      const n = page * MODEL.requestsPerPage + call
      if (n === 0) await request(`/login/${browser}`)
      else await request(n % MODEL.changeEvery === 0 ? '/change' : '/read')
    }
  }
  return requests
}

async function traffic(framework, connection) {
  const rows = []
  const theirs = framework === 'express' || framework === 'fastify'
  for (const [name, contender] of contenders(connection, framework, { theirs })) {
    if (contender.store.initialize) await contender.store.initialize()
    const { url, stop } = await listen(framework, contender.store)
    const start = Date.now() + 100
    // Browsers start spread over one page interval, as real ones do.
    const counts = await Promise.all(
      Array.from({ length: MODEL.browsers }, (_, b) =>
        browse(url, b, start + (b * MODEL.pageEveryMs) / MODEL.browsers),
      ),
    )
    await stop()
    const requests = counts.reduce((a, b) => a + b, 0)
    const used = contender.consumed()
    rows.push({ name, requests, wcu: (used.writeUnits * 1000) / requests, rcu: (used.readUnits * 1000) / requests })
    await contender.close()
  }
  const baseline = rows[0].wcu
  return rows.map((row) => ({ ...row, ratio: row.wcu / baseline }))
}

/** Stored size, capacity and time of one session size, plain and compressed. */
async function compression(connection) {
  const plain = new DynamoDBStore({ table: 'costs-plain', AWSConfigJSON: connection })
  const packed = new DynamoDBStore({ table: 'costs-packed', AWSConfigJSON: connection, compress: true })
  await Promise.all([plain.initialize(), packed.initialize()])
  const rows = []
  for (const [label, bytes, rounds] of [
    ['4 KB', 4096, QUICK ? 5 : 40],
    ['64 KB', 65536, QUICK ? 3 : 20],
    ['1 MB', 1 << 20, QUICK ? 1 : 5],
  ]) {
    const sess = realisticSession(bytes, label)
    const row = { label, json: JSON.stringify(sess).length }
    for (const [name, store] of [
      ['plain', plain],
      ['packed', packed],
    ]) {
      const before = store.stats().consumedCapacity
      const times = []
      const cpu = process.cpuUsage()
      let refused = null
      for (let i = 0; i < rounds && !refused; i++) {
        const started = process.hrtime.bigint()
        // A changed session each time, so every save is a real write.
        try {
          await store.set(`${label}-${i}`, { ...sess, round: i })
        } catch (err) {
          refused = err.code
          break
        }
        await store.get(`${label}-${i}`)
        times.push(Number(process.hrtime.bigint() - started) / 1e6)
      }
      const used = process.cpuUsage(cpu)
      const after = store.stats().consumedCapacity
      row[name] = refused
        ? { refused }
        : {
            wcu: (after.writeUnits - before.writeUnits) / rounds,
            rcu: (after.readUnits - before.readUnits) / rounds,
            p50: median(times),
            cpuMs: (used.user + used.system) / 1000 / rounds,
          }
    }
    rows.push(row)
  }
  await Promise.all([plain.close(), packed.close()])
  return rows
}

/**
 * Write units of a first save, a later save, a touch past touchAfter and one within it, for a
 * session of about `bytes`, with the user index alone and with device fields recorded too.
 */
async function devices(connection) {
  const req = {
    headers: {
      'user-agent':
        'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
    },
    ip: '203.0.113.7',
  }
  const rows = []
  for (const bytes of [700, 1500]) {
    const row = { bytes }
    for (const [name, options] of [
      ['plain', {}],
      ['indexed', { userPath: 'user' }],
      ['devices', { userPath: 'user', sessionMetadata: () => ({ deviceName: 'Work laptop' }) }],
    ]) {
      const store = new DynamoDBStore({
        table: `costs-devices-${name}`,
        AWSConfigJSON: connection,
        touchAfter: 60_000,
        ...options,
      })
      await store.initialize()
      const units = async (call) => {
        const before = store.stats().consumedCapacity.writeUnits
        await call()
        return store.stats().consumedCapacity.writeUnits - before
      }
      const sess = { ...realisticSession(bytes, `${name}-${bytes}`), user: `u-${bytes}` }
      if (name === 'devices') Object.defineProperty(sess, 'req', { value: req })
      const sid = `devices-${name}-${bytes}-${Date.now()}`
      row[name] = {
        firstSave: await units(() => store.set(sid, sess)),
        save: await units(() => store.set(sid, { ...sess, changed: true })),
        touchWithin: await units(() => store.touch(sid, sess)),
      }
      const later = new DynamoDBStore({
        table: `costs-devices-${name}`,
        AWSConfigJSON: connection,
        initialized: true,
        ...options,
      })
      const before = later.stats().consumedCapacity.writeUnits
      await later.touch(sid, sess)
      row[name].touch = later.stats().consumedCapacity.writeUnits - before
      await Promise.all([store.close(), later.close()])
    }
    rows.push(row)
  }
  return rows
}

function report(traffics, packed, deviceRows) {
  const lines = [
    '# What sessions cost in DynamoDB capacity',
    '',
    `\`npm run bench:costs\`${QUICK ? ' (QUICK)' : ''}: capacity as DynamoDB Local reports it (ReturnConsumedCapacity),`,
    'connect-dynamodb 3.0.5 and this store in one run.',
    '',
    '## Capacity per 1,000 requests, ~2 KB session',
    '',
    `${MODEL.browsers} browsers each load a page every 10 s, ${MODEL.requestsPerPage} requests per page, for ${MODEL.pages} pages; 1 request in ${MODEL.changeEvery}`,
    'changes the session. Time runs 10x fast (touchAfter 60 s is given as 6 s, a page comes every 1 s).',
    '',
  ]
  for (const [framework, rows] of traffics) {
    lines.push(
      `### ${framework}`,
      '',
      `| store | requests | WCU / 1,000 req | vs ${rows[0].name.startsWith('connect-dynamodb 3') ? 'connect-dynamodb' : 'defaults'} | RCU / 1,000 req |`,
      '| --- | ---: | ---: | ---: | ---: |',
    )
    for (const row of rows)
      lines.push(
        `| ${row.name} | ${row.requests} | ${round(row.wcu, 1)} | ${round(row.ratio)}x | ${round(row.rcu, 1)} |`,
      )
    lines.push('')
  }
  lines.push(
    '## Compression (`compress: true`)',
    '',
    'Realistic session JSON (tokens and ids among repeated keys; see bench/sessions.js). Each round saves a changed session and reads it back.',
    '',
    '| session | JSON bytes | WCU per save, plain -> compressed | RCU per get, plain -> compressed | p50 save+get ms, plain -> compressed | CPU ms per save+get, plain -> compressed |',
    '| --- | ---: | --- | --- | --- | --- |',
  )
  const pair = (row, key, digits = 1) =>
    `${row.plain.refused ? 'refused' : round(row.plain[key], digits)} -> ${round(row.packed[key], digits)}`
  for (const row of packed) {
    lines.push(
      `| ${row.label} | ${row.json} | ${pair(row, 'wcu')} | ${pair(row, 'rcu')} | ${pair(row, 'p50')} | ${pair(row, 'cpuMs')} |`,
    )
  }
  lines.push(
    '',
    `Plain sessions over 400 KB are refused (\`${packed.find((r) => r.plain.refused)?.plain.refused || 'none'}\`): DynamoDB's item limit.`,
    '',
  )
  lines.push(
    '## Devices (`userPath`, `sessionMetadata`)',
    '',
    'Write units of one session as DynamoDB reports them, for three stores: neither option (plain); `userPath` alone (the user',
    'attribute, its index entry and registry, `createdAt`/`lastSeenAt`); `userPath` with a `sessionMetadata` hook and a request',
    '(plus the device: a 130-byte Safari user agent, an address and a device name). A touch within `touchAfter` sends nothing; a',
    'touch past it comes from another store process.',
    '',
    '| session JSON | first save | later save | touch past touchAfter | touch within touchAfter |',
    '| ---: | --- | --- | --- | --- |',
  )
  const both = (row, key) =>
    `${round(row.plain[key], 1)} / ${round(row.indexed[key], 1)} / ${round(row.devices[key], 1)}`
  for (const row of deviceRows) {
    lines.push(
      `| ~${row.bytes} B | ${both(row, 'firstSave')} | ${both(row, 'save')} | ${both(row, 'touch')} | ${both(row, 'touchWithin')} |`,
    )
  }
  lines.push('')
  return lines.join('\n')
}

async function main() {
  const local = await startDynamoDBLocal()
  const connection = { endpoint: local.endpoint, region: 'us-east-1', accessKeyId: 'bench', secretAccessKey: 'bench' }
  try {
    const traffics = [
      ['express-session (resave: false, saveUninitialized: false)', await traffic('express', connection)],
      ['@fastify/session defaults (rolling, saveUninitialized)', await traffic('fastify', connection)],
      ['koa-session defaults (connect-dynamodb-rs/koa)', await traffic('koa', connection)],
      ['koa-session, rolling (connect-dynamodb-rs/koa)', await traffic('koa-rolling', connection)],
      [
        'hono-sessions defaults: expiry extended every request (connect-dynamodb-rs/hono)',
        await traffic('hono', connection),
      ],
    ]
    const packed = await compression(connection)
    const deviceRows = await devices(connection)
    const markdown = report(traffics, packed, deviceRows)
    console.log(markdown)
    if (!QUICK) fs.writeFileSync(path.join(__dirname, 'results', 'costs.md'), markdown)
    for (const [, rows] of traffics) {
      if (rows.some((row) => !(row.requests > 0 && row.wcu > 0))) throw new Error('a contender recorded no writes')
    }
  } finally {
    await local.stop()
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
