'use strict'

// npm run demo: an Express app keeping its sessions in DynamoDB (see
// serve.js for where the DynamoDB comes from).

const express = require('express')
const session = require('express-session')
const DynamoDBStore = require('..')(session)
const { serve, runIfMain } = require('./serve')

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/** Fetched by the page once its response is over, so it shows what the store did for it. */
const storeView = `<h2>What the store did</h2>
<div id="store">loading…</div>
<script>
fetch('/store.json').then((r) => r.json()).then(({ item, stats }) => {
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';')
  const rows = item ? Object.entries(item.attributes).map(([k, v]) => '<tr><th>' + esc(k) + '</th><td><code>' + esc(v) + '</code></td></tr>').join('') : ''
  document.getElementById('store').innerHTML =
    (item ? '<p>The session item, as stored (' + item.bytes + ' bytes; expires ' + esc(item.expiresAt) + '):</p><table id="item">' + rows + '</table>'
          : '<p id="item">No session item is stored for this browser.</p>') +
    '<p>stats() so far:</p><pre id="stats">' + esc(JSON.stringify(stats, null, 2)) + '</pre>' +
    '<p><small>Reload within 10 s: the touch is skipped (touchAfter). A page that changes nothing is never a full save.</small></p>'
})
</script>`

function page(req) {
  const { user, visits } = req.session
  const who = user
    ? `<p>Signed in as <b>${escapeHtml(user)}</b>.</p><form method="post" action="/logout"><button>Log out</button></form>`
    : `<form method="post" action="/login"><input name="user" placeholder="your name" required> <button>Log in</button></form>`
  return `<!doctype html><title>connect-dynamodb-rs demo</title>
<h1>connect-dynamodb-rs demo</h1>
<p>You have seen this page <b>${visits}</b> time${visits === 1 ? '' : 's'} in this session.</p>
${who}
<p><small>Session <code>${escapeHtml(req.sessionID)}</code> lives in DynamoDB table <code>${escapeHtml(req.sessionStore.table)}</code>.</small></p>
${storeView}`
}

/** The session's item as DynamoDB holds it, read through the JS SDK. */
async function storedItem(store, sid) {
  const { GetItemCommand } = require('@aws-sdk/client-dynamodb')
  const key = { [store.hashKey]: { S: store.prefix + sid } }
  const { Item } = await store.client.send(
    new GetItemCommand({ TableName: store.table, Key: key, ConsistentRead: true }),
  )
  if (!Item || !Item.sess) return null
  const attributes = Object.fromEntries(Object.entries(Item).map(([name, value]) => [name, Object.values(value)[0]]))
  const bytes = Object.entries(attributes).reduce(
    (n, [name, v]) => n + Buffer.byteLength(name) + Buffer.byteLength(String(v)),
    0,
  )
  return { attributes, bytes, expiresAt: new Date(Number(attributes.expires) * 1000).toISOString() }
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
    // Express 5 leaves req.body undefined when the request has no form body.
    const user = String((req.body && req.body.user) || 'anonymous').slice(0, 64)
    req.session.regenerate((err) => {
      if (err) return next(err)
      Object.assign(req.session, { user, visits })
      // Save before redirecting: express-session sends the headers of a response before its
      // own save lands, and a browser follows the redirect at once.
      req.session.save((saveErr) => (saveErr ? next(saveErr) : res.redirect('/')))
    })
  })
  // This browser's own session item (read before this request's own touch), and the store's counters.
  app.get('/store.json', async (req, res, next) => {
    try {
      res.json({ item: await storedItem(req.sessionStore, req.sessionID), stats: req.sessionStore.stats() })
    } catch (err) {
      next(err)
    }
  })
  app.post('/logout', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.redirect('/'))))
  app.use((err, _req, res, _next) => {
    console.error(err)
    res
      .status(500)
      .type('text')
      .send(`Session store error: ${err.code || ''} ${err.message}`)
  })
  return app
}

runIfMain(module, () =>
  serve({
    name: 'Demo',
    table: 'connect-dynamodb-rs-demo',
    createStore: (options) =>
      new DynamoDBStore({ ...options, touchAfter: 10_000, log: process.env.DEMO_DEBUG ? console.log : undefined }),
    createApp,
  }),
)

module.exports = { createApp }
