'use strict'

// Sessions as they cross between express-session and the core: to JSON and
// back, their cookie's times, the version a save carries, the device fields a
// save records, and the shapes the store's answers take.

const { storeError, invalidArgument } = require('./errors')
const { settle } = require('./settle')

/** With `versioning`, the session property that carries the version read to the next save. */
const VERSION_PROPERTY = '__sessionVersion'

/** A lone surrogate becomes U+FFFD in UTF-8, so two such strings would name one item. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** The last time a Date can hold, in ms (ECMAScript's limit). */
const MAX_DATE_MS = 8.64e15

function serialize(sess) {
  if (sess === null || typeof sess !== 'object') throw invalidArgument('session must be an object')
  let json
  try {
    json = JSON.stringify(sess)
  } catch (cause) {
    const err = storeError('ERR_SESSION_NOT_SERIALIZABLE', `session cannot be stored as JSON: ${cause.message}`)
    err.cause = cause
    throw err
  }
  if (typeof json !== 'string') {
    throw storeError('ERR_SESSION_NOT_SERIALIZABLE', 'session cannot be stored as JSON')
  }
  return json
}

/** The session's data without the version property, which lives in its own attribute. */
function withoutVersion(sess) {
  if (sess === null || typeof sess !== 'object' || !Object.hasOwn(sess, VERSION_PROPERTY)) return sess
  const { [VERSION_PROPERTY]: _version, ...data } = sess
  return data
}

/** The cookie's absolute expiry (ms) and maxAge (ms); the core picks the rule. */
function cookieTimes(sess) {
  const cookie = sess && sess.cookie
  if (!cookie || typeof cookie !== 'object') return [undefined, undefined]
  const expires = cookie.expires == null ? undefined : new Date(cookie.expires).getTime()
  const maxAge = typeof cookie.maxAge === 'number' ? cookie.maxAge : undefined
  return [expires, maxAge]
}

function parseSession(json) {
  if (json == null) return null
  try {
    const session = JSON.parse(json)
    return session !== null && typeof session === 'object' && !Array.isArray(session) ? session : null
  } catch {
    return null
  }
}

/**
 * The session `get` resolves, from its JSON, when it ends (`end`, epoch ms) and, with `versioning`,
 * the version read. A touch moves only the item's end, so the stored cookie's expiry is brought to
 * it here (express-session and @fastify/session read it): to the millisecond where the item knows
 * its end (`exact`), else (an item of connect-dynamodb's, whose `expires` is its cookie's rounded
 * up to the second) only when the item's end is a whole second past the cookie's. One past the last
 * date a Date can hold (a damaged item) leaves the cookie as it is. The rest of the expiry rule is
 * src/expiry.rs.
 */
function foundSession(json, end, version, exact) {
  const session = parseSession(json)
  if (!session) return session
  if (version != null) session[VERSION_PROPERTY] = version
  const cookie = session.cookie
  if (end == null || end > MAX_DATE_MS || !cookie || typeof cookie !== 'object' || cookie.expires == null)
    return session
  const stored = Date.parse(cookie.expires)
  if (exact ? stored !== end : stored <= end - 1000) cookie.expires = new Date(end).toISOString()
  return session
}

/** What `touch` resolves: `{ expires }` as connect-dynamodb gives it, or null when no live session was there. */
function touched(expires) {
  return expires == null ? null : { expires: String(expires) }
}

/** What `all` resolves: every live session, each with its `id`. */
function withIds(stored) {
  return stored.flatMap(({ sid, sess }) => {
    const session = parseSession(sess)
    return session ? [Object.assign(session, { id: sid })] : []
  })
}

/** A row of listSessionsForUser(): times as Dates, the device's fields when the store recorded them. */
function listedSession({ sid, expires, createdAt, lastSeenAt, device }) {
  const row = { sid, expires: new Date(expires * 1000) }
  if (createdAt != null) row.createdAt = new Date(createdAt)
  if (lastSeenAt != null) row.lastSeenAt = new Date(lastSeenAt)
  if (device) row.device = device
  return row
}

/** A string with any lone surrogate replaced (JSON would carry it, and UTF-8 cannot); anything else as it is. */
function wellFormed(value) {
  return typeof value === 'string' && LONE_SURROGATE.test(value) ? value.toWellFormed() : value
}

/** The client address of a request: express's `req.ip` (which honours `trust proxy`), else the socket's. */
function clientAddress(req) {
  const address = req.ip || (req.socket && req.socket.remoteAddress)
  return typeof address === 'string' ? address : undefined
}

/**
 * The device fields a save records (the first save's are kept), as JSON: the user agent and
 * client address of the request express-session attaches to the session (non-enumerable `req`),
 * and what the `sessionMetadata` hook adds. The core bounds them.
 */
function deviceFields(sess, sessionMetadata) {
  const req = sess && sess.req
  const fields = req ? { userAgent: wellFormed(req.headers && req.headers['user-agent']), ip: clientAddress(req) } : {}
  if (sessionMetadata) {
    const extra = sessionMetadata(sess, req)
    if (extra === null || typeof extra !== 'object' || Array.isArray(extra)) {
      throw storeError('ERR_INVALID_OPTION', 'sessionMetadata(session, req) must return an object of device fields')
    }
    for (const [name, value] of Object.entries(extra)) fields[wellFormed(name)] = wellFormed(value)
  }
  try {
    return JSON.stringify(fields)
  } catch (cause) {
    throw Object.assign(storeError('ERR_INVALID_OPTION', `sessionMetadata fields cannot be stored: ${cause.message}`), {
      cause,
    })
  }
}

/**
 * For express-session: gives the request's session a new id and keeps its data, as OWASP asks on
 * login or a privilege change (express-session's own regenerate() throws the data away). The
 * stored session moves in one transaction (`store.rotate`), so a request still holding the old id
 * finds nothing and cannot write it back; express-session sends the new cookie with the response.
 * A session never saved has nothing to move and simply gets its new id. On failure the request
 * keeps its old session and the error goes to the callback or promise.
 */
function rotateSession(req, cb) {
  return settle(cb, async () => {
    const store = req && req.sessionStore
    if (!store || typeof store.rotate !== 'function' || typeof store.generate !== 'function' || !req.session) {
      throw invalidArgument('rotateSession(req) needs a request with an express-session session kept by this store')
    }
    const [oldId, old] = [req.sessionID, req.session]
    const { cookie: _cookie, ...data } = old
    store.generate(req)
    Object.assign(req.session, data)
    try {
      await store.rotate(oldId, req.sessionID)
    } catch (err) {
      if (err.code === 'ERR_SESSION_NOT_FOUND') return
      req.sessionID = oldId
      req.session = old
      throw err
    }
  })
}

module.exports = {
  VERSION_PROPERTY,
  LONE_SURROGATE,
  serialize,
  withoutVersion,
  cookieTimes,
  parseSession,
  foundSession,
  touched,
  withIds,
  listedSession,
  deviceFields,
  rotateSession,
}
