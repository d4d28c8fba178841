'use strict'

// @fastify/session with its defaults (rolling, saveUninitialized): it saves
// the whole session on every response. This store sends an unchanged save as
// a touch, and with touchAfter sends nothing at all for a while. Run it with
// `node examples/fastify.js` (see serve.js for where the DynamoDB comes from).

const Fastify = require('fastify')
const session = require('express-session')
const DynamoDBStore = require('..')(session)
const { serve, runIfMain } = require('./serve')

function createApp(store) {
  const app = Fastify()
  app.register(require('@fastify/cookie'))
  app.register(require('@fastify/session'), {
    store,
    secret: process.env.SESSION_SECRET || 'connect-dynamodb-rs fastify example secret, 32+ chars',
    cookie: { secure: false, maxAge: 24 * 3600 * 1000 },
  })
  app.get('/', async (request) => ({
    visits: request.session.get('visits') || 0,
    sessionId: request.session.sessionId,
  }))
  app.post('/visit', async (request) => {
    request.session.set('visits', (request.session.get('visits') || 0) + 1)
    return { visits: request.session.get('visits') }
  })
  app.get('/stats', async () => store.stats())
  return app
}

/** Fastify's listen() is not Node's; give serve() the shape it expects. */
function listenable(app) {
  return {
    listen(port, ready) {
      const server = app.server
      app.listen({ port, host: '127.0.0.1' }).then(ready, (err) => {
        console.error(err.message)
        process.exit(1)
      })
      return server
    },
  }
}

runIfMain(module, () =>
  serve({
    name: 'Fastify example',
    table: 'connect-dynamodb-rs-fastify',
    createStore: (options) => new DynamoDBStore({ ...options, touchAfter: 60_000 }),
    createApp: (store) => listenable(createApp(store)),
  }),
)

module.exports = { createApp }
