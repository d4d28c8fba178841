'use strict'

// npm run demo: an Express app keeping its sessions in DynamoDB (see
// serve.js for where the DynamoDB comes from).

const express = require('express')
const session = require('express-session')
const DynamoDBStore = require('..')(session)
const { serve, runIfMain } = require('./serve')

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

function page(req) {
  const { user, visits } = req.session
  const who = user
    ? `<p>Signed in as <b>${escape(user)}</b>.</p><form method="post" action="/logout"><button>Log out</button></form>`
    : `<form method="post" action="/login"><input name="user" placeholder="your name" required> <button>Log in</button></form>`
  return `<!doctype html><title>connect-dynamodb-rs demo</title>
<h1>connect-dynamodb-rs demo</h1>
<p>You have seen this page <b>${visits}</b> time${visits === 1 ? '' : 's'} in this session.</p>
${who}
<p><small>Session <code>${escape(req.sessionID)}</code> lives in DynamoDB table <code>${escape(req.sessionStore.table)}</code>.</small></p>`
}

function createApp(store) {
  const app = express()
  app.use(express.urlencoded({ extended: false }))
  app.use(
    session({
      store,
      secret: process.env.SESSION_SECRET || 'connect-dynamodb-rs demo secret',
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 24 * 3600 * 1000, httpOnly: true, sameSite: 'lax' },
    }),
  )
  app.get('/', (req, res) => {
    req.session.visits = (req.session.visits || 0) + 1
    res.type('html').send(page(req))
  })
  app.post('/login', (req, res, next) => {
    // A fresh session id on login (session fixation), keeping the counter.
    const visits = req.session.visits
    req.session.regenerate((err) => {
      if (err) return next(err)
      Object.assign(req.session, { user: String(req.body.user || 'anonymous').slice(0, 64), visits })
      res.redirect('/')
    })
  })
  app.post('/logout', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.redirect('/'))))
  app.use((err, req, res, next) => {
    console.error(err)
    res.status(500).type('text').send(`Session store error: ${err.code || ''} ${err.message}`)
  })
  return app
}

runIfMain(module, () =>
  serve({
    name: 'Demo',
    table: 'connect-dynamodb-rs-demo',
    createStore: (options) => new DynamoDBStore(options),
    createApp,
  }),
)

module.exports = { createApp }
