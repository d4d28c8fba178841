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

/** hono-sessions' own fields; everything else in its session lives in `_data`. */
const FLASH = '_flash'
const ACCESSED = '_accessed'

/** How many sessions' last reads a DynamoDBHonoStore remembers, to tell a save from a touch. */
const READS_KEPT = 10_000

/**
 * The store for hono-sessions' `store` option. A request that changes nothing but the
 * session's expiry and access time (every request, with `autoExtendExpiration`) is a touch: one
 * small UpdateItem, skipped within `touchAfter`; `_accessed` then keeps the time of the last
 * full write. A new session that holds nothing is not written at all.
 */
class DynamoDBHonoStore {
  #store
  /** sid -> { data, version } of its last read, oldest first. */
  #reads = new Map()

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
    const { data, version, expires } = fromExpress(sess)
    this.#remember(sid, { data, version })
    const { [FLASH]: flashed, [ACCESSED]: accessed, ...fields } = data
    const flash = new Set(Array.isArray(flashed) ? flashed : [])
    const entries = Object.entries(fields).map(([key, value]) => [key, { value, flash: flash.has(key) }])
    return {
      _data: Object.fromEntries(entries),
      _expire: expires == null ? null : new Date(expires).toISOString(),
      _delete: false,
      _accessed: typeof accessed === 'string' ? accessed : null,
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
    const { data, expires } = this.#toStore(sessionData)
    const express = toExpress(data, expires, null)
    const read = this.#reads.get(sid)
    this.#reads.delete(sid)
    if (read && read.version !== undefined) express[VERSION_PROPERTY] = read.version
    const { [ACCESSED]: _was, ...before } = (read && read.data) || {}
    const { [ACCESSED]: _now, ...after } = data
    // A new session that holds nothing is not kept (as express-session's saveUninitialized: false).
    if (!read && Object.keys(after).length === 0) return
    if (read && sameData(before, after)) return void (await this.#store.touch(sid, express))
    await this.#store.set(sid, express)
  }

  async deleteSession(sid) {
    this.#reads.delete(sid)
    await this.#store.destroy(sid)
  }

  close() {
    return this.#store.close()
  }

  /** hono-sessions' session in express-session's shape: its values at the top, flash keys listed. */
  #toStore(sessionData) {
    const { _data = {}, _expire, _accessed } = sessionData || {}
    const data = {}
    const flash = []
    for (const [key, entry] of Object.entries(_data)) {
      data[key] = entry && typeof entry === 'object' ? entry.value : entry
      if (entry && entry.flash) flash.push(key)
    }
    if (flash.length > 0) data[FLASH] = flash
    if (typeof _accessed === 'string') data[ACCESSED] = _accessed
    const at = _expire == null ? Number.NaN : Date.parse(_expire)
    return { data, expires: Number.isFinite(at) ? at : null }
  }

  #remember(sid, read) {
    this.#reads.delete(sid)
    this.#reads.set(sid, read)
    if (this.#reads.size > READS_KEPT) this.#reads.delete(this.#reads.keys().next().value)
  }
}

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
    if (maxAge !== undefined && !(Number.isFinite(maxAge) && maxAge > 0)) {
      const err = new TypeError('connect-dynamodb-rs/hono: maxAge must be a positive number of milliseconds')
      err.code = 'ERR_INVALID_ARG_VALUE'
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
    return sess ? fromExpress(sess).data : null
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

  #write(sid, value) {
    const expires = this.#maxAge === undefined ? null : Date.now() + this.#maxAge
    return this.#store.set(sid, toExpress(value, expires, this.#maxAge ?? null))
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
