'use strict'

// A Hono app with hono-sessions, its sessions in DynamoDB
// (connect-dynamodb-rs/hono). hono-sessions extends a session's expiry on
// every request; the store sends that as a touch, which `touchAfter` makes
// free for a minute. `node examples/hono.js` (see serve.js for where the
// DynamoDB comes from), then `curl -c jar -b jar -X POST localhost:3000/visit`.
// The same app runs on Bun and Deno, and in Lambda through hono/aws-lambda.

const { Hono } = require('hono')
const { sessionMiddleware } = require('hono-sessions')
const { DynamoDBHonoStore } = require('../hono')
const { serve, runIfMain } = require('./serve')

function createApp(store) {
  const app = new Hono()
  app.use('*', sessionMiddleware({ store, expireAfterSeconds: 24 * 3600, sessionCookieName: 'sid' }))
  app.post('/visit', (c) => {
    const session = c.get('session')
    session.set('visits', (session.get('visits') || 0) + 1)
    return c.json({ visits: session.get('visits') })
  })
  app.get('/', (c) => c.json({ visits: c.get('session').get('visits') || 0 }))
  app.get('/stats', (c) => c.json(store.store.stats()))
  return app
}

/** Hono answers fetch Requests; on Node, @hono/node-server gives it a server to listen with. */
function listenable(app) {
  return require('@hono/node-server').createAdaptorServer({ fetch: app.fetch })
}

module.exports = { createApp }

runIfMain(module, () =>
  serve({
    name: 'connect-dynamodb-rs with Hono',
    table: 'connect-dynamodb-rs-hono',
    createStore: (options) => new DynamoDBHonoStore({ ...options, touchAfter: 60_000 }),
    createApp: (store) => listenable(createApp(store)),
  }),
)
