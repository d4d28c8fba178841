'use strict'

// A Koa app with koa-session, its sessions in DynamoDB (connect-dynamodb-rs/koa).
// Rolling sessions: every response renews the cookie, and the store turns an
// unchanged session into a touch, which `touchAfter` makes free for a minute.
// `node examples/koa.js` (see serve.js for where the DynamoDB comes from), then
// `curl -c jar -b jar -X POST localhost:3000/visit` a few times.

const Koa = require('koa')
const { createSession } = require('koa-session')
const { DynamoDBKoaStore } = require('../koa')
const { serve, runIfMain } = require('./serve')

function createApp(store) {
  const app = new Koa()
  app.keys = [process.env.SESSION_SECRET || 'connect-dynamodb-rs koa example secret']
  app.use(createSession({ store, maxAge: 24 * 3600 * 1000, rolling: true }, app))
  app.use((ctx) => {
    if (ctx.path === '/stats') {
      ctx.body = store.store.stats()
      return
    }
    if (ctx.method === 'POST' && ctx.path === '/visit') ctx.session.visits = (ctx.session.visits || 0) + 1
    ctx.body = { visits: ctx.session.visits || 0 }
  })
  return app
}

module.exports = { createApp }

runIfMain(module, () =>
  serve({
    name: 'connect-dynamodb-rs with Koa',
    table: 'connect-dynamodb-rs-koa',
    createStore: (options) => new DynamoDBKoaStore({ ...options, touchAfter: 60_000 }),
    createApp,
  }),
)
