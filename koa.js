'use strict'

// connect-dynamodb-rs/koa: the store for koa-session's `store` option, on the
// same core, options and table as the Express store.
//
//   const session = require('koa-session')
//   const { DynamoDBKoaStore } = require('connect-dynamodb-rs/koa')
//   app.use(session({ store: new DynamoDBKoaStore({ table: 'sessions' }), maxAge: 86_400_000 }, app))
//
// koa-session hands the store its session with `_expire` (ms) and `_maxAge`;
// they become the cookie's `expires` and `originalMaxAge` in the item, as
// express-session writes them, so either app reads what the other wrote. A
// session it saves unchanged (rolling, renew) is a touch: one small
// UpdateItem, skipped within `touchAfter`. docs/frameworks.md says more.

const { createHmac, timingSafeEqual } = require('node:crypto')
const { storeOf, toExpress, fromExpress, sameData, VERSION_PROPERTY } = require('./lib/frameworks')

/** What a request's `get` read, for its `set`: ctx -> { key, data, version, cookie }. */
const reads = new WeakMap()

class DynamoDBKoaStore {
  #store

  /** `options`: the store's options (docs/options.md), or `{ store }` to share a store already made. */
  constructor(options) {
    this.#store = storeOf(options)
  }

  /** The store underneath: `stats()`, `close()`, the user index, locks, `all()`… */
  get store() {
    return this.#store
  }

  async get(key, _maxAge, { ctx } = {}) {
    const sess = await this.#store.get(key)
    if (!sess) return null
    const { data, version, cookie, expires, maxAge } = fromExpress(sess)
    if (ctx) reads.set(ctx, { key, data, version, cookie })
    const session = { ...data }
    // The item's own expiry, to the millisecond: a touch moves it, not the `_expire` inside.
    if (expires != null) session._expire = expires
    // koa-session's maxAge is the session's own (kept in its data); a session Express wrote has its cookie's.
    if (session._maxAge == null && maxAge != null) session._maxAge = maxAge
    return session
  }

  async set(key, sess, maxAge, { changed = true, ctx } = {}) {
    // `_maxAge` stays in the data: a new maxAge alone is a change (the cookie is not compared).
    const { _expire, ...data } = sess
    const { _maxAge } = data
    const expires = typeof _expire === 'number' ? _expire : typeof maxAge === 'number' ? Date.now() + maxAge : null
    const read = ctx && reads.get(ctx)
    const same = read && read.key === key
    const express = toExpress(data, expires, _maxAge, same ? read.cookie : undefined)
    if (same && read.version !== undefined) express[VERSION_PROPERTY] = read.version
    // koa-session says "unchanged" also for a forced save (ctx.session.save()) and for a new
    // ctx.session.maxAge: only what the request read, unchanged, is a touch.
    if (!changed && same && sameData(read.data, data)) return void (await this.#store.touch(key, express))
    await this.#store.set(key, express)
  }

  async destroy(key, { ctx } = {}) {
    if (ctx) reads.delete(ctx)
    await this.#store.destroy(key)
    const external = ctx && ctx.sessionOptions && ctx.sessionOptions.externalKey
    if (external && typeof external.clear === 'function') external.clear(ctx)
  }

  close() {
    return this.#store.close()
  }
}

/**
 * koa-session's `externalKey` for express-session's cookie: the session id travels as
 * express-session signs it (`s:<id>.<HMAC-SHA256>`, cookie-signature's format), so a Koa app
 * and an Express app with the same cookie name and secret share their users' sessions.
 * `secret` may be a list (the first signs; any verifies), as express-session's may.
 */
function expressCookie({ name = 'connect.sid', secret, cookie = {} } = {}) {
  const secrets = Array.isArray(secret) ? secret : [secret]
  if (secrets.length === 0 || !secrets.every((s) => typeof s === 'string' && s.length > 0)) {
    throw new TypeError(
      'connect-dynamodb-rs/koa: expressCookie needs the secret (or secrets) express-session signs with',
    )
  }
  const sign = (value, key) => `${value}.${createHmac('sha256', key).update(value).digest('base64').replace(/=+$/, '')}`
  const options = { httpOnly: true, path: '/', overwrite: true, ...cookie, signed: false }
  return {
    get(ctx) {
      // koa-session's own cookie carries no id here; it only clears it on logout, and unsigned,
      // an app without app.keys (it signs with express-session's secret) can log out.
      if (ctx.sessionOptions) ctx.sessionOptions.signed = false
      const raw = ctx.cookies.get(name, { signed: false })
      if (!raw) return undefined
      let value
      try {
        value = decodeURIComponent(raw)
      } catch {
        return undefined
      }
      if (!value.startsWith('s:')) return undefined
      const signed = value.slice(2)
      const id = signed.slice(0, signed.lastIndexOf('.'))
      const given = Buffer.from(signed)
      const valid = secrets.some((key) => {
        const expected = Buffer.from(sign(id, key))
        return expected.length === given.length && timingSafeEqual(expected, given)
      })
      return valid && id ? id : undefined
    },
    set(ctx, id) {
      ctx.cookies.set(name, encodeURIComponent(`s:${sign(id, secrets[0])}`), options)
    },
    /** Logout (DynamoDBKoaStore's destroy): express-session's cookie goes too. */
    clear(ctx) {
      ctx.cookies.set(name, '', { ...options, maxAge: undefined, expires: new Date(0) })
    },
  }
}

module.exports = { DynamoDBKoaStore, expressCookie }
