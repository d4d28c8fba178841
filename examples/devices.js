'use strict'

// "Your devices": a user signed in on several browsers sees each of them
// (browser, address, when it signed in and was last seen) and can sign any
// of them out. Logging in rotates the session id without losing the session
// (rotateSession), and sessions end 12 hours after sign-in however active
// they are (absoluteTimeout). Run it with `node examples/devices.js` (see
// serve.js for where the DynamoDB comes from) and sign in as ann /
// ann-password from two browsers.

const crypto = require('node:crypto')
const express = require('express')
const session = require('express-session')
const connectDynamoDB = require('..')
const { serve, runIfMain } = require('./serve')

const DynamoDBStore = connectDynamoDB(session)
const { rotateSession } = connectDynamoDB

// A stand-in user directory; a real app asks its database.
const USERS = new Map([
  ['ann', { id: 'u-ann', password: 'ann-password' }],
  ['bob', { id: 'u-bob', password: 'bob-password' }],
])
const SECRET = process.env.SESSION_SECRET || 'connect-dynamodb-rs devices secret'

/** The options this example's store needs: the user index, and the lifetime. */
const STORE_OPTIONS = { userPath: 'user', absoluteTimeout: 12 * 3600 * 1000 }

const samePassword = (given, expected) => {
  const a = crypto.createHash('sha256').update(String(given)).digest()
  const b = crypto.createHash('sha256').update(expected).digest()
  return crypto.timingSafeEqual(a, b)
}

/**
 * The page names a device by a handle made from its session id, never by the id itself: a
 * session id is a credential, and a page listing them would hand them out.
 */
const handleOf = (sid) => crypto.createHmac('sha256', SECRET).update(sid).digest('base64url').slice(0, 16)

const escapeHtml = (text) =>
  String(text ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  )

function createApp(store) {
  const app = express()
  app.set('trust proxy', 'loopback')
  app.use(express.urlencoded({ extended: false }))
  app.use(express.json())
  app.use(
    session({
      store,
      secret: SECRET,
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 24 * 3600 * 1000, httpOnly: true, sameSite: 'lax' },
    }),
  )

  app.post('/login', async (req, res, next) => {
    const user = USERS.get(req.body.username)
    if (!user || !samePassword(req.body.password, user.password))
      return res.status(401).json({ error: 'wrong username or password' })
    try {
      // A new session id on login (no session fixation), keeping what the session held.
      await rotateSession(req)
      req.session.user = user.id
      res.json({ user: req.body.username })
    } catch (err) {
      next(err)
    }
  })

  app.get('/devices.json', requireUser, async (req, res, next) => {
    try {
      res.json(await devicesOf(store, req))
    } catch (err) {
      next(err)
    }
  })

  app.get('/devices', requireUser, async (req, res, next) => {
    try {
      res.type('html').send(page(await devicesOf(store, req)))
    } catch (err) {
      next(err)
    }
  })

  app.post('/devices/:handle/sign-out', requireUser, async (req, res, next) => {
    try {
      const sessions = await store.listSessionsForUser(req.session.user)
      const target = sessions.find(({ sid }) => handleOf(sid) === req.params.handle)
      if (!target) return res.status(404).json({ error: 'no such device' })
      await store.destroySessionForUser(req.session.user, target.sid)
      if (req.accepts(['html', 'json']) === 'html') return res.redirect(303, '/devices')
      res.json({ signedOut: req.params.handle })
    } catch (err) {
      next(err)
    }
  })

  app.get('/me', (req, res) =>
    req.session.user ? res.json({ user: req.session.user }) : res.status(401).json({ error: 'not logged in' }),
  )

  app.use((err, _req, res, _next) => {
    res.status(500).json({ error: `${err.code || ''} ${err.message}`.trim() })
  })
  return app
}

function requireUser(req, res, next) {
  if (!req.session.user) return res.status(401).json({ error: 'not logged in' })
  next()
}

/** The signed-in user's devices, this one first. */
async function devicesOf(store, req) {
  const sessions = await store.listSessionsForUser(req.session.user)
  return sessions
    .map(({ sid, device = {}, createdAt, lastSeenAt, expires }) => ({
      handle: handleOf(sid),
      current: sid === req.sessionID,
      browser: device.userAgent || 'unknown browser',
      address: device.ip || 'unknown address',
      signedInAt: createdAt,
      lastSeenAt,
      expires,
    }))
    .sort((a, b) => Number(b.current) - Number(a.current))
}

function page(devices) {
  const rows = devices
    .map(
      (
        d,
      ) => `<tr><td>${escapeHtml(d.browser)}${d.current ? ' <b>(this device)</b>' : ''}</td><td>${escapeHtml(d.address)}</td>
<td>${escapeHtml(d.signedInAt && d.signedInAt.toISOString())}</td><td>${escapeHtml(d.lastSeenAt && d.lastSeenAt.toISOString())}</td>
<td>${d.current ? '' : `<form method="post" action="/devices/${escapeHtml(d.handle)}/sign-out"><button>Sign out</button></form>`}</td></tr>`,
    )
    .join('\n')
  return `<!doctype html><title>Your devices</title><h1>Your devices</h1>
<table><tr><th>Browser</th><th>Address</th><th>Signed in</th><th>Last seen</th><th></th></tr>
${rows}</table>`
}

runIfMain(module, () =>
  serve({
    name: 'Devices example',
    table: 'connect-dynamodb-rs-devices',
    createStore: (options) => new DynamoDBStore({ ...options, ...STORE_OPTIONS }),
    createApp,
  }),
)

module.exports = { createApp, STORE_OPTIONS, handleOf }
