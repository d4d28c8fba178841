'use strict'

// connect-dynamodb-rs: a DynamoDB session store for express-session, Connect
// and @fastify/session. This shim handles arguments, callbacks and promises,
// and turns sessions into JSON; every DynamoDB call, expiry rule, retry and
// codec lives in the native core (src/).

const { NativeStore } = require('./lib/binding').loadBinding()
const { clientBridge, defaultClient } = require('./lib/client')
const { Engine } = require('./lib/engine')
const { chooseCarrier } = require('./lib/runtime')
const { storeError, liftError, invalidArgument } = require('./lib/errors')

const classes = new WeakMap()

/** The table tools the command line (cli.js) uses: a store's `[ADMIN]()`. Not for apps. */
const ADMIN = Symbol('connect-dynamodb-rs admin')

/** With `versioning`, the session property that carries the version read to the next save. */
const VERSION_PROPERTY = '__sessionVersion'

/**
 * connect-dynamodb's factory: pass express-session (or `{ session }`,
 * `{ Store }`, connect 2.x, express 3.x) and get the store class.
 */
function connectDynamoDB(connect) {
  const Store = connect && (connect.Store || (connect.session && connect.session.Store))
  if (typeof Store !== 'function') {
    throw new TypeError(
      'connect-dynamodb-rs: pass express-session (or connect) to the factory: require("connect-dynamodb-rs")(session)',
    )
  }
  if (!classes.has(Store)) classes.set(Store, defineStore(Store))
  return classes.get(Store)
}

function defineStore(Store) {
  return class DynamoDBStore extends Store {
    #native
    #engine = new Engine()
    #client
    #ownClient = false
    #reaper
    #reaping

    #hooks
    /** 'native' (the core's own sockets) or 'node' (Node's). */
    #carrier
    /** Whether saves carry the device's fields (the user index, or a `sessionMetadata` hook). */
    #devices
    /** With `versioning`: session object -> the version its last save wrote (a request may save twice). */
    #versions

    constructor(options) {
      super(options)
      const { native, client, hooks, transport } = normalizeOptions(options == null ? {} : options)
      const bridge = client === undefined ? undefined : clientBridge(client)
      this.#carrier = chooseCarrier(transport, NativeStore.ownSockets())
      try {
        const hooksOfEngine = this.#engine.hooks(this.#carrier)
        // The core holds this log function: through a WeakRef, so that it never keeps the store alive.
        const me = new WeakRef(this)
        const log = (m) => me.deref()?.#log(m)
        this.#native = new NativeStore(
          native,
          bridge && bridge.config,
          bridge && bridge.credentials,
          log,
          ...hooksOfEngine,
          Boolean(hooks.sessionMetadata),
        )
      } catch (err) {
        throw liftError(err)
      }
      this.#engine.attach(this.#native)
      this.#hooks = hooks
      this.#devices = this.#native.devices
      if (this.#native.versioning) this.#versions = new WeakMap()
      this.#client = client
      this.#startReaper(this.#native.reapInterval)
    }

    /** The DynamoDBClient passed in, or one made to match the store's options. */
    get client() {
      if (this.#client === undefined) {
        this.#client = defaultClient(this.#native.connection)
        this.#ownClient = this.#client !== undefined
      }
      return this.#client
    }

    get table() {
      return this.#native.table
    }

    get prefix() {
      return this.#native.prefix
    }

    get hashKey() {
      return this.#native.hashKey
    }

    /** The sockets that carry this store's requests: 'native' (the core's own) or 'node' (Node's net/tls). */
    get transport() {
      return this.#carrier
    }

    get(sid, cb) {
      return this.#run(cb, 'get', (id) => this.#native.get(id, checkSid(sid)), foundSession)
    }

    set(sid, sess, cb) {
      if (this.#versions) return this.#settle(cb, 'set', () => this.#saveVersioned(checkSid(sid), sess))
      return this.#run(
        cb,
        'set',
        (id) =>
          this.#native.set(id, checkSid(sid), serialize(sess), ...this.#times(sess), undefined, this.#device(sess)),
        nothing,
      )
    }

    /** A save that names the version it read, and remembers the one it wrote. */
    async #saveVersioned(sid, sess) {
      const json = serialize(withoutVersion(sess))
      const read = this.#versions.get(sess) ?? sess[VERSION_PROPERTY]
      const args = [sid, json, ...this.#times(sess), read, this.#device(sess)]
      this.#versions.set(sess, await this.#engine.call((id) => this.#native.set(id, ...args)))
    }

    /** Refreshes the expiry of a live session; resolves `{ expires }`, or null when none exists. */
    touch(sid, sess, cb) {
      if (typeof sess === 'function' && cb === undefined) [sess, cb] = [undefined, sess]
      return this.#run(cb, 'touch', (id) => this.#native.touch(id, checkSid(sid), ...this.#times(sess)), touched)
    }

    destroy(sid, cb) {
      return this.#run(cb, 'destroy', (id) => this.#native.destroy(id, checkSid(sid)), nothing)
    }

    /** What the store sent, skipped, and was billed since it was made. */
    stats() {
      return this.#native.stats()
    }

    /**
     * Takes the session's lease lock (for `maxLockTime`) if no other request
     * holds it and the session's `lockVerificationProperty` still equals
     * `verificationValue`; otherwise fails with ERR_SESSION_LOCKED. Resolves
     * the lease's token.
     */
    lock(sid, verificationValue, cb) {
      return this.#settle(cb, 'lock', () => {
        checkSid(sid)
        const json = verificationValue === undefined ? undefined : JSON.stringify(verificationValue)
        if (typeof json !== 'string') throw invalidArgument('verificationValue must be a JSON value')
        return this.#call('lock', sid, json)
      })
    }

    /**
     * Releases the lease `token` names (or, without one, the one lease this store took on the
     * session). Resolves true if it released it, false if no lease of ours was there any more.
     */
    unlock(sid, token, cb) {
      if (typeof token === 'function') [token, cb] = [undefined, token]
      return this.#settle(cb, 'unlock', () => this.#call('unlock', checkSid(sid), checkToken(token, true)))
    }

    /** Whether the lease `token` names is still held (one consistent read; it does not fence). */
    holdsLock(sid, token, cb) {
      return this.#settle(cb, 'holdsLock', () => this.#call('holdsLock', checkSid(sid), checkToken(token)))
    }

    /** Every live session, each with its `id`. */
    all(cb) {
      return this.#settle(cb, 'all', () =>
        this.#call('all').then((stored) =>
          stored.flatMap(({ sid, sess }) => {
            const session = parseSession(sess)
            return session ? [Object.assign(session, { id: sid })] : []
          }),
        ),
      )
    }

    /** The ids of every live session. */
    ids(cb) {
      return this.#settle(cb, 'ids', () => this.#call('ids'))
    }

    length(cb) {
      return this.#settle(cb, 'length', () => this.#call('length'))
    }

    /** Deletes every session of this store's prefix; resolves how many. */
    clear(cb) {
      return this.#settle(cb, 'clear', () => this.#call('clear'))
    }

    /** Deletes expired sessions of this store's prefix; resolves how many. */
    reap(cb) {
      return this.#settle(cb, 'reap', () => this.#call('reap'))
    }

    /** Adds the user index to an existing table (once, before the user methods); waits until it is ACTIVE. */
    ensureUserIndex(cb) {
      return this.#settle(cb, 'ensureUserIndex', () => this.#call('ensureUserIndex'))
    }

    /** The user's live sessions as `{ sid, expires: Date }`, soonest expiry first. */
    listSessionsForUser(user, cb) {
      return this.#settle(cb, 'listSessionsForUser', () =>
        this.#call('listSessionsForUser', checkUser(user)).then((sessions) => sessions.map(listedSession)),
      )
    }

    /** Ends one of the user's sessions (a row of "Your devices"); ERR_SESSION_NOT_FOUND unless it is a live session of that user. */
    destroySessionForUser(user, sid, cb) {
      return this.#settle(cb, 'destroySessionForUser', () =>
        this.#call('destroySessionForUser', checkUser(user), checkSid(sid)),
      )
    }

    /**
     * Moves the live session `oldSid` to `newSid` in one transaction, keeping its data, user, device
     * and creation time; the old id becomes a tombstone at once. See rotateSession() for express-session.
     */
    rotate(oldSid, newSid, cb) {
      return this.#settle(cb, 'rotate', () => this.#call('rotate', checkSid(oldSid), checkSid(newSid)))
    }

    /** Destroys every session of the user except `keepSid`; resolves how many were destroyed. */
    destroyOtherSessionsForUser(user, keepSid, cb) {
      return this.#settle(cb, 'destroyOtherSessionsForUser', () =>
        this.#call('destroySessionsForUser', checkUser(user), checkSid(keepSid)),
      )
    }

    /** Destroys every session of the user; resolves how many were destroyed. */
    destroyAllSessionsForUser(user, cb) {
      return this.#settle(cb, 'destroyAllSessionsForUser', () =>
        this.#call('destroySessionsForUser', checkUser(user), undefined),
      )
    }

    /** Makes sure the table exists (creating it if needed) and is ACTIVE. */
    initialize(cb) {
      return this.#settle(cb, 'initialize', () => this.#call('initialize'))
    }

    /** connect-dynamodb's helper: DescribeTable's output for the table (`{ Table: { ... } }`). */
    describeSessionsTable(cb) {
      return this.#settle(cb, 'describeSessionsTable', () =>
        this.#engine.call((id) => this.#native.describeTable(id)).then((json) => withDates(JSON.parse(json))),
      )
    }

    /** connect-dynamodb's helper: creates the table as `initialize()` would (an existing one is left alone). */
    createSessionsTable(cb) {
      return this.#settle(cb, 'createSessionsTable', () => this.#call('createTable'))
    }

    /**
     * connect-dynamodb's helper, synchronous as there: the session in a GetItem
     * output (`{ Item }` in the SDK's DynamoDB JSON), or null when the item is
     * missing, expired, damaged or holds no session. Never throws.
     */
    getParsedSession(output, cb) {
      let session = null
      try {
        const item = output && output.Item
        if (item && typeof item === 'object')
          session = parseSession(this.#native.parseItem(JSON.stringify(wireItem(item))))
      } catch {
        session = null
      }
      if (typeof cb === 'function') process.nextTick(cb, null, session)
      return session
    }

    /** connect-dynamodb's helper, synchronous as there: the `expires` (epoch seconds) a save of `sess` now would write. */
    getExpiresValue(sess, cb) {
      let expires
      try {
        expires = this.#native.expiresValue(...this.#times(sess))
      } catch (err) {
        if (typeof cb !== 'function') throw liftError(err)
        return void process.nextTick(cb, liftError(err))
      }
      if (typeof cb === 'function') process.nextTick(cb, null, expires)
      return expires
    }

    clearInterval(cb) {
      return settle(cb, () => this.#stopReaper())
    }

    /** Stops the reaper; later calls fail with ERR_STORE_CLOSED. */
    close(cb) {
      return settle(cb, async () => {
        await this.#stopReaper()
        this.#native.close()
        if (this.#ownClient) this.#client.destroy()
      })
    }

    /** The calls the command line makes (cli.js): pages of the table, moves between layouts, deletes, probes. */
    [ADMIN]() {
      const call = (method, ...args) => this.#settle(undefined, method, () => this.#call(method, ...args))
      return {
        format: this.#native.format,
        stats: () => this.#native.stats(),
        scanPage: (start, limit, measure = false) => call('scanPage', start, limit, measure),
        moveToLayout: (key, fromPrefix) => call('moveToLayout', key, fromPrefix),
        deleteKeys: (keys) => call('deleteKeys', keys),
        ttlSetting: () => call('ttlSetting'),
        probePermissions: () => call('probePermissions'),
      }
    }

    /** A call of the native store on the engine (its first argument is the call's id). */
    #call(method, ...args) {
      return this.#engine.call((id) => this.#native[method](id, ...args))
    }

    /**
     * The device fields a save records (the first save's are kept): the user agent and client
     * address of the request express-session attaches to the session (non-enumerable `req`), and
     * what the `sessionMetadata` hook adds. The core bounds them; undefined when not recorded.
     */
    #device(sess) {
      if (!this.#devices) return undefined
      const req = sess && sess.req
      const fields = req
        ? { userAgent: wellFormed(req.headers && req.headers['user-agent']), ip: clientAddress(req) }
        : {}
      const { sessionMetadata } = this.#hooks
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
        throw Object.assign(
          storeError('ERR_INVALID_OPTION', `sessionMetadata fields cannot be stored: ${cause.message}`),
          { cause },
        )
      }
    }

    /** Cookie expiry, maxAge and (when `ttl` is a function) its answer, in ms. */
    #times(sess) {
      const [expires, maxAge] = cookieTimes(sess)
      const { ttl } = this.#hooks
      if (!ttl) return [expires, maxAge, undefined]
      const ms = ttl(sess)
      if (!(typeof ms === 'number' && ms > 0 && Number.isFinite(ms))) {
        throw storeError('ERR_INVALID_OPTION', `ttl(session) must return a number of ms > 0, not ${String(ms)}`)
      }
      return [expires, maxAge, ms]
    }

    /**
     * One call on the engine, `start(id)`, whose outcome is `shape(value, end, version, exact)`.
     * With a callback it goes straight to it (the engine never settles before the call has
     * returned); either way the returned promise settles too, as settle() describes.
     */
    #run(cb, op, start, shape) {
      if (typeof cb !== 'function') return this.#settle(undefined, op, () => this.#engine.call(start, shape))
      let resolve
      const promise = new Promise((r) => (resolve = r))
      this.#engine.start(start, (err, value, end, version, exact) => {
        let result
        if (!err) {
          try {
            result = shape(value, end, version, exact)
          } catch (thrown) {
            err = thrown
          }
        }
        if (err) {
          err = this.#reported(op, err)
          resolve()
          return cb(err)
        }
        resolve(result)
        cb(null, result)
      })
      return promise
    }

    /** Like settle(), and an error also goes to the `err` hook. */
    #settle(cb, op, operation) {
      if (!this.#hooks.err) return settle(cb, operation)
      return settle(cb, () =>
        Promise.resolve()
          .then(operation)
          .catch((err) => {
            throw this.#reported(op, err)
          }),
      )
    }

    /** The error with its code lifted, after the `err` hook has seen it. */
    #reported(op, err) {
      const lifted = liftError(err)
      const { err: hook } = this.#hooks
      if (hook) {
        try {
          hook(`${op} failed: ${lifted.message}`, lifted)
        } catch {
          // A throwing hook must not change the outcome.
        }
      }
      return lifted
    }

    /**
     * A message from the core, `{ kind, text }`: an `event` (connect, disconnect) is emitted on the
     * store, where express-session listens; the `log` hook gets warnings and debug notes as
     * "warn: …" / "debug: …", and without a hook warnings go to console.warn.
     */
    #log({ kind, text }) {
      if (kind === 'event') return void this.emit(text)
      const { log } = this.#hooks || {}
      try {
        if (log) log(`${kind}: ${text}`)
        else if (kind === 'warn') console.warn(`connect-dynamodb-rs: ${text}`)
      } catch {
        // Logging must never break the store.
      }
    }

    /** One scan at a time: a slow or failing reap is never overlapped by the next. */
    #startReaper(interval) {
      if (!(interval > 0)) return
      this.#reaper = setInterval(() => {
        if (this.#reaping) return
        this.#reaping = this.reap()
          .catch((err) => {
            if (this.listenerCount && this.listenerCount('error') > 0) this.emit('error', err)
          })
          .finally(() => {
            this.#reaping = undefined
          })
      }, interval)
      this.#reaper.unref()
    }

    /** Stops the timer; resolves once a reap in flight has finished. */
    async #stopReaper() {
      clearInterval(this.#reaper)
      this.#reaper = undefined
      await this.#reaping
    }
  }
}

/**
 * Runs one store operation: its result goes to `callback` (exactly once, on a
 * later tick) and to the returned promise. With a callback, errors go only to
 * the callback, so an ignored promise never becomes an unhandled rejection.
 */
function settle(callback, operation) {
  let promise
  try {
    promise = operation()
  } catch (err) {
    promise = Promise.reject(err)
  }
  if (typeof callback !== 'function') return promise.then(undefined, rejectLifted)
  return promise.then(
    (value) => {
      process.nextTick(callback, null, value)
      return value
    },
    (err) => {
      process.nextTick(callback, liftError(err))
    },
  )
}

function nothing() {}

function rejectLifted(err) {
  throw liftError(err)
}

/** A lone surrogate becomes U+FFFD in UTF-8, so two such strings would name one item. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

function checkSid(sid) {
  if (typeof sid !== 'string' || sid === '') throw invalidArgument('sid must be a non-empty string')
  if (LONE_SURROGATE.test(sid)) throw invalidArgument('sid must be well-formed Unicode (it has a lone surrogate)')
  return sid
}

/** A lock token as lock() resolved it; `optional` lets it be left out (undefined or null). */
function checkToken(token, optional = false) {
  if (optional && token == null) return undefined
  if (typeof token === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(token)) return token
  throw invalidArgument('token must be the string lock() resolved')
}

function checkUser(user) {
  if (typeof user === 'string' && LONE_SURROGATE.test(user)) {
    throw storeError('ERR_INVALID_ARGUMENT', 'user must be well-formed Unicode (it has a lone surrogate)')
  }
  if (typeof user === 'string' || typeof user === 'number') return user
  throw storeError('ERR_INVALID_USER', 'user must be a non-empty string or a finite number')
}

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

/** The options the shim reads itself (the client and the hooks), from the core's table of every option. */
const SHIM_OPTIONS = NativeStore.optionTable().filter((option) => option.shim)

/** Splits the options into what the core reads, the client, and the JS hooks. */
function normalizeOptions(options) {
  if (typeof options !== 'object') throw storeError('ERR_INVALID_OPTION', 'options must be an object')
  const native = { ...options }
  const shim = {}
  for (const { name, aliases } of SHIM_OPTIONS) {
    let first
    for (const given of [name, ...aliases]) {
      if (native[given] === undefined) continue
      if (first !== undefined && shim[name] !== native[given]) {
        throw storeError(
          'ERR_INVALID_OPTION',
          `options "${first}" and "${given}" set the same thing to different values`,
        )
      }
      first = given
      shim[name] = native[given]
      delete native[given]
    }
  }
  const hooks = {}
  for (const name of ['err', 'log', 'sessionMetadata']) {
    if (shim[name] == null) continue
    if (typeof shim[name] !== 'function') throw storeError('ERR_INVALID_OPTION', `option "${name}" must be a function`)
    hooks[name] = shim[name]
  }
  if (typeof native.ttl === 'function') {
    hooks.ttl = native.ttl
    delete native.ttl
  }
  return { native, client: shim.client == null ? undefined : shim.client, hooks, transport: shim.transport }
}

/** The last time a Date can hold, in ms (ECMAScript's limit). */
const MAX_DATE_MS = 8.64e15

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

/** A string with any lone surrogate replaced (JSON would carry it, and UTF-8 cannot); anything else as it is. */
function wellFormed(value) {
  return typeof value === 'string' && LONE_SURROGATE.test(value) ? value.toWellFormed() : value
}

/** The client address of a request: express's `req.ip` (which honours `trust proxy`), else the socket's. */
function clientAddress(req) {
  const address = req.ip || (req.socket && req.socket.remoteAddress)
  return typeof address === 'string' ? address : undefined
}

/** A row of listSessionsForUser(): times as Dates, the device's fields when the store recorded them. */
function listedSession({ sid, expires, createdAt, lastSeenAt, device }) {
  const row = { sid, expires: new Date(expires * 1000) }
  if (createdAt != null) row.createdAt = new Date(createdAt)
  if (lastSeenAt != null) row.lastSeenAt = new Date(lastSeenAt)
  if (device) row.device = device
  return row
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

/** What `touch` resolves: `{ expires }` as connect-dynamodb gives it, or null when no live session was there. */
function touched(expires) {
  return expires == null ? null : { expires: String(expires) }
}

/** An item in the JS SDK's shape (Binary as Uint8Array) as DynamoDB's JSON (Binary as base64). */
function wireItem(item) {
  return Object.fromEntries(Object.entries(item).map(([name, value]) => [name, wireValue(value)]))
}

function wireValue(value) {
  if (value === null || typeof value !== 'object') return value
  const base64 = (bytes) => Buffer.from(bytes).toString('base64')
  if (value.B !== undefined) return { B: typeof value.B === 'string' ? value.B : base64(value.B) }
  if (Array.isArray(value.BS)) return { BS: value.BS.map((b) => (typeof b === 'string' ? b : base64(b))) }
  if (Array.isArray(value.L)) return { L: value.L.map(wireValue) }
  if (value.M && typeof value.M === 'object') return { M: wireItem(value.M) }
  return value
}

/** DescribeTable's times arrive as epoch seconds; the JS SDK hands them out as Dates. */
function withDates(value, name = '') {
  if (typeof value === 'number' && /DateTime$/.test(name)) return new Date(value * 1000)
  if (Array.isArray(value)) return value.map((v) => withDates(v))
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, withDates(v, key)]))
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

/** The store class over express-session's Store (or a bare EventEmitter without it). */
function defaultStoreClass() {
  let Store
  try {
    ;({ Store } = require('express-session'))
  } catch {
    Store = require('node:events').EventEmitter
  }
  return connectDynamoDB({ Store })
}

module.exports = connectDynamoDB
module.exports.default = connectDynamoDB
module.exports.VERSION_PROPERTY = VERSION_PROPERTY
module.exports.rotateSession = rotateSession
Object.defineProperty(module.exports, 'ADMIN', { value: ADMIN })
Object.defineProperty(module.exports, 'DynamoDBStore', { enumerable: true, get: defaultStoreClass })
