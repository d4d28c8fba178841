'use strict'

// What the Koa and Hono stores (koa.js, hono.js) share: the store they sit on,
// sessions in express-session's shape (so the Express app, the Koa app and
// the Hono app read each other's sessions from one table), and errors that a
// middleware's interface would drop.

const { EventEmitter } = require('node:events')
const connectDynamoDB = require('../index')
const { VERSION_PROPERTY } = require('./session')
const { invalidArgument } = require('./errors')

/** The store class on a bare EventEmitter: no express-session needed. */
const Store = connectDynamoDB({ Store: EventEmitter })

/** `options.store` when it is a store already (shared with an Express app), else a new store of `options`. */
function storeOf(options = {}) {
  if (options && options.store) return options.store
  return new Store(options)
}

/** Names express-session and the store keep for themselves at the top of a session. */
const RESERVED = ['cookie', VERSION_PROPERTY]

/**
 * A session as the framework holds it (`data`), in express-session's shape: its fields at the
 * top, and a cookie whose `expires` (ms since the epoch, or null for the store's default
 * lifetime) the store turns into the item's expiry. `cookie`: the cookie the session was read
 * with, whose other fields (secure, sameSite, domain: an Express app sharing the table set
 * them) are kept. A field with a reserved name is refused, not dropped.
 */
function toExpress(data, expires, maxAge, cookie) {
  for (const name of RESERVED) {
    if (Object.hasOwn(data, name)) {
      throw invalidArgument(
        `a session field may not be named "${name}": express-session and the store keep their own there`,
      )
    }
  }
  const base = cookie && typeof cookie === 'object' ? cookie : { httpOnly: true, path: '/' }
  return {
    ...data,
    cookie: {
      ...base,
      originalMaxAge: typeof maxAge === 'number' ? maxAge : null,
      expires: expires == null ? null : new Date(expires).toISOString(),
    },
  }
}

/** The other way: the session's fields, its cookie, and the cookie's expiry (ms, or null) and maxAge. */
function fromExpress(sess) {
  const { cookie, [VERSION_PROPERTY]: version, ...data } = sess
  const at = cookie && cookie.expires != null ? Date.parse(cookie.expires) : Number.NaN
  return {
    data,
    version,
    cookie: cookie && typeof cookie === 'object' ? cookie : undefined,
    expires: Number.isFinite(at) ? at : null,
    maxAge: cookie && typeof cookie.originalMaxAge === 'number' ? cookie.originalMaxAge : null,
  }
}

/** Whether two sessions' fields are the same (as JSON: what the store would write). */
function sameData(a, b) {
  try {
    return JSON.stringify(a) === JSON.stringify(b)
  } catch {
    return false
  }
}

/**
 * An error a middleware's interface cannot carry (a `set` that returns nothing): the store's
 * `error` listeners get it with `err.operation`; without one, the `log` option (as a warning),
 * else console.warn, says it with its code. It is never dropped silently.
 */
function reportDropped(store, log, operation, err) {
  err.operation = operation
  if (store.listenerCount('error') > 0) return void store.emit('error', err)
  const text = `connect-dynamodb-rs: a session ${operation} failed and the middleware could not be told: ${err.code} ${err.message}`
  try {
    if (typeof log === 'function') log(`warn: ${text}`)
    else console.warn(text)
  } catch {
    // A log hook that throws changes nothing.
  }
}

module.exports = { Store, storeOf, toExpress, fromExpress, sameData, reportDropped, VERSION_PROPERTY }
