'use strict'

// connect-dynamodb-rs/hono: session storage for Hono's two session
// middlewares, on the same core, options and table as the Express store.
//
// hono-sessions (its Store interface):
//   const { sessionMiddleware } = require('hono-sessions')
//   const { DynamoDBHonoStore } = require('connect-dynamodb-rs/hono')
//   app.use(sessionMiddleware({ store: new DynamoDBHonoStore({ table: 'sessions' }), expireAfterSeconds: 900 }))
//
// @hono/session (its storage: get, set, delete):
//   const { useSession } = require('@hono/session')
//   const { DynamoDBSessionStorage } = require('connect-dynamodb-rs/hono')
//   const storage = new DynamoDBSessionStorage({ table: 'sessions', maxAge: 86_400_000 })
//   app.use(storage.middleware(), useSession({ secret }))
//
// Sessions are kept in express-session's shape (their fields at the top, a
// cookie with `expires`), so the Express, Koa and Hono apps read each other's
// sessions from one table. docs/frameworks.md says when a cookie can be
// shared too.

const { storeOf, toExpress, fromExpress, sameData, reportDropped, VERSION_PROPERTY } = require('./lib/frameworks')
const { invalidArgument } = require('./lib/errors')

/** Where hono-sessions' own fields (flash keys, `_accessed`) live in the item, beside the session's. */
const HONO = '__honoSessions'

/**
 * What a read found, on the object it returned: hono-sessions hands that same object back to
 * `persistSessionData` (and @hono/session's updates spread it), so each request carries its
 * own read. A symbol: no JSON, no hash, no clash with a session's fields.
 */
const READ = Symbol('connect-dynamodb-rs read')

/**
 * The store for hono-sessions' `store` option. A request that changes nothing but the
 * session's expiry and access time (every request, with `autoExtendExpiration`) is a touch: one
 * small UpdateItem, skipped within `touchAfter`; `_accessed` then keeps the time of the last
 * full write. A new session that holds nothing is not written at all.
 */
class DynamoDBHonoStore {
  #store

  /** `options`: the store's options (docs/options.md), or `{ store }` to share a store already made. */
  constructor(options) {
    this.#store = storeOf(options)
  }

  /** The store underneath: `stats()`, `close()`, the user index, locks, `all()`… */
  get store() {
    return this.#store
  }

  async getSessionById(sid) {
    if (!sid) return null
    const sess = await this.#store.get(sid)
    if (!sess) return null
    const { data, version, cookie, expires } = fromExpress(sess)
    const { [HONO]: hono, ...fields } = data
    const meta = hono && typeof hono === 'object' ? hono : {}
    const flash = new Set(Array.isArray(meta.flash) ? meta.flash : [])
    const entries = Object.entries(fields).map(([key, value]) => [key, { value, flash: flash.has(key) }])
    return {
      _data: Object.fromEntries(entries),
      _expire: expires == null ? null : new Date(expires).toISOString(),
      _delete: false,
      _accessed: typeof meta.accessed === 'string' ? meta.accessed : null,
      [READ]: { sid, fields, flash: [...flash].sort(), version, cookie },
    }
  }

  /**
   * hono-sessions creates every new session empty and saves it again at the end of the
   * request: the empty one is not written (a write unit saved per new session). One created
   * with data (a rotated key) is.
   */
  async createSession(sid, initialData) {
    const data = initialData && initialData._data
    if (data && typeof data === 'object' && Object.keys(data).length === 0) return
    await this.persistSessionData(sid, initialData)
  }

  async persistSessionData(sid, sessionData) {
    const { fields, meta, expires } = this.#toStore(sessionData)
    // What this request read of this session (a rotated key's new id read nothing).
    const found = sessionData && sessionData[READ]
    const read = found && found.sid === sid ? found : undefined
    // A new session that holds nothing is not kept (as express-session's saveUninitialized: false).
    if (!read && Object.keys(fields).length === 0) return
    const express = toExpress({ ...fields, [HONO]: meta }, expires, null, read && read.cookie)
    if (read && read.version !== undefined) express[VERSION_PROPERTY] = read.version
    const unchanged = read && sameData(read.fields, fields) && sameData(read.flash, [...meta.flash].sort())
    if (unchanged) return void (await this.#store.touch(sid, express))
    await this.#store.set(sid, express)
  }

  async deleteSession(sid) {
    await this.#store.destroy(sid)
  }

  close() {
    return this.#store.close()
  }

  /**
   * hono-sessions' session in express-session's shape: its values at the top; its flash keys
   * and `_accessed` under one name of their own, so that no session field can be taken for them.
   */
  #toStore(sessionData) {
    const { _data = {}, _expire, _accessed } = sessionData || {}
    const entries = Object.entries(_data)
    if (entries.some(([key]) => key === HONO)) {
      throw invalidArgument(
        `a session field may not be named "${HONO}": the store keeps hono-sessions' own fields there`,
      )
    }
    // fromEntries: a field named __proto__ stays a field.
    const fields = Object.fromEntries(
      entries.map(([key, entry]) => [key, entry && typeof entry === 'object' ? entry.value : entry]),
    )
    const meta = { flash: entries.filter(([, entry]) => entry && entry.flash).map(([key]) => key) }
    if (typeof _accessed === 'string') meta.accessed = _accessed
    const at = _expire == null ? Number.NaN : Date.parse(_expire)
    return { fields, meta, expires: Number.isFinite(at) ? at : null }
  }
}

/** The longest `maxAge` DynamoDBSessionStorage takes: 100 years, in ms. */
const MAX_AGE_LIMIT = 100 * 365.25 * 24 * 3600 * 1000

/**
 * Storage for @hono/session. Its `set` and `delete` return nothing and are not awaited:
 * through `middleware()` (before `useSession()`), a request waits for its writes and a failed
 * one reaches Hono's error handling with its code; used bare (`useSessionStorage(storage)`), a
 * failure goes to the store's `error` listeners, else to the `log` option or console.warn.
 * `maxAge` (ms): how long a session lives after its last write (default: the store's default
 * lifetime), since @hono/session keeps its expiry in its cookie.
 */
class DynamoDBSessionStorage {
  #store
  #maxAge
  #log

  /** `options`: the store's options (docs/options.md) and `maxAge`, or `{ store, maxAge }`. */
  constructor(options = {}) {
    const { maxAge, ...storeOptions } = options
    if (maxAge !== undefined && !(Number.isSafeInteger(maxAge) && maxAge > 0 && maxAge <= MAX_AGE_LIMIT)) {
      const err = new TypeError(
        'connect-dynamodb-rs/hono: "maxAge" must be a whole number of milliseconds from 1 to 100 years',
      )
      err.code = 'ERR_INVALID_OPTION'
      throw err
    }
    this.#store = storeOf(storeOptions)
    this.#maxAge = maxAge
    this.#log = storeOptions.log
  }

  get store() {
    return this.#store
  }

  async get(sid) {
    const sess = await this.#store.get(sid)
    if (!sess) return null
    const { data, cookie } = fromExpress(sess)
    return { ...data, [READ]: { sid, cookie } }
  }

  set(sid, value) {
    this.#track(this.#write(sid, value), 'save')
  }

  delete(sid) {
    this.#track(this.#store.destroy(sid), 'destroy')
  }

  /**
   * A Hono middleware that gives the request this storage (as `useSessionStorage` does) and,
   * after the rest of the request, waits for its writes: the first that failed is thrown, for
   * Hono's error handling.
   */
  middleware() {
    return async (c, next) => {
      const pending = []
      c.set('sessionStorage', this.#forRequest(pending))
      await next()
      const outcomes = await Promise.allSettled(pending)
      const failed = outcomes.find((outcome) => outcome.status === 'rejected')
      if (failed) throw failed.reason
    }
  }

  close() {
    return this.#store.close()
  }

  /** The save of `value` (its read's cookie kept when it carries one), as a promise even when refused. */
  #write(sid, value) {
    try {
      const expires = this.#maxAge === undefined ? null : Date.now() + this.#maxAge
      const read = value && value[READ] && value[READ].sid === sid ? value[READ] : undefined
      return this.#store.set(sid, toExpress(value, expires, this.#maxAge ?? null, read && read.cookie))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  #track(promise, operation) {
    promise.catch((err) => reportDropped(this.#store, this.#log, operation, err))
  }

  /** This storage for one request: its writes are kept for the middleware to wait for. */
  #forRequest(pending) {
    const keep = (promise) => {
      // Handled now, so a write that fails before the request ends is no unhandled rejection.
      promise.catch(() => {})
      pending.push(promise)
    }
    return {
      get: (sid) => this.get(sid),
      set: (sid, value) => keep(this.#write(sid, value)),
      delete: (sid) => keep(this.#store.destroy(sid)),
    }
  }
}

module.exports = { DynamoDBHonoStore, DynamoDBSessionStorage }
