'use strict'

// One session per user, with passport's local strategy: logging in on a
// second browser ends the session of the first. Run it with
// `node examples/single-session.js` (see serve.js for where the DynamoDB
// comes from) and log in as ann / ann-password in two browsers.

const crypto = require('node:crypto')
const express = require('express')
const session = require('express-session')
const passport = require('passport')
const { Strategy: LocalStrategy } = require('passport-local')
const DynamoDBStore = require('..')(session)
const { serve, runIfMain } = require('./serve')

// A stand-in user directory; a real app asks its database.
const USERS = new Map([
  ['ann', { id: 'u-ann', name: 'ann', password: 'ann-password' }],
  ['bob', { id: 'u-bob', name: 'bob', password: 'bob-password' }],
])
const USERS_BY_ID = new Map([...USERS.values()].map((user) => [user.id, user]))

const samePassword = (given, expected) => {
  const a = crypto.createHash('sha256').update(String(given)).digest()
  const b = crypto.createHash('sha256').update(expected).digest()
  return crypto.timingSafeEqual(a, b)
}

function createAuthenticator() {
  const authenticator = new passport.Passport()
  authenticator.use(
    new LocalStrategy((username, password, done) => {
      const user = USERS.get(username)
      done(null, user && samePassword(password, user.password) ? user : false)
    }),
  )
  authenticator.serializeUser((user, done) => done(null, user.id))
  authenticator.deserializeUser((id, done) => done(null, USERS_BY_ID.get(id) || false))
  return authenticator
}

/** The store must be created with `userPath: 'passport.user'`. */
function createApp(store) {
  const auth = createAuthenticator()
  const app = express()
  app.use(express.urlencoded({ extended: false }))
  app.use(express.json())
  app.use(
    session({
      store,
      secret: process.env.SESSION_SECRET || 'connect-dynamodb-rs single-session secret',
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 24 * 3600 * 1000, httpOnly: true, sameSite: 'lax' },
    }),
  )
  app.use(auth.session())

  app.post('/login', (req, res, next) => {
    auth.authenticate('local', (err, user) => {
      if (err) return next(err)
      if (!user) return res.status(401).json({ error: 'wrong username or password' })
      // logIn gives the session a fresh id and saves it with passport.user set.
      req.logIn(user, (err) => {
        if (err) return next(err)
        store.destroyOtherSessionsForUser(user.id, req.sessionID, (err, ended) => {
          if (err) return next(err)
          res.json({ user: user.name, endedOtherSessions: ended })
        })
      })
    })(req, res, next)
  })

  app.get('/me', (req, res) => {
    if (!req.user) return res.status(401).json({ error: 'not logged in' })
    res.json({ user: req.user.name })
  })

  app.get('/devices', requireUser, (req, res, next) => {
    store.listSessionsForUser(req.user.id, (err, sessions) => {
      if (err) return next(err)
      res.json(sessions.map(({ sid, expires }) => ({ current: sid === req.sessionID, expires })))
    })
  })

  app.post('/logout', (req, res, next) => req.logOut((err) => (err ? next(err) : res.json({ ok: true }))))

  app.post('/logout-everywhere', requireUser, (req, res, next) => {
    store.destroyAllSessionsForUser(req.user.id, (err, ended) => (err ? next(err) : res.json({ endedSessions: ended })))
  })

  app.use((err, _req, res, _next) => {
    console.error(err)
    res.status(500).json({ error: `${err.code || ''} ${err.message}`.trim() })
  })
  return app
}

function requireUser(req, res, next) {
  if (!req.user) return res.status(401).json({ error: 'not logged in' })
  next()
}

runIfMain(module, () =>
  serve({
    name: 'Single-session example',
    table: 'connect-dynamodb-rs-single-session',
    createStore: (options) => new DynamoDBStore({ ...options, userPath: 'passport.user' }),
    createApp,
  }),
)

module.exports = { createApp }
