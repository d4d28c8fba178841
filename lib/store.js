'use strict'

// The store class express-session (and Connect, and @fastify/session) sees.
// Its calls on the engine are made from the core's table of operations
// (lib/operations.js); what is written here is what only JavaScript can do:
// callbacks and promises, the hooks the app passed, sessions to and from
// JSON, the reaper's timer, and closing.

const { NativeStore } = require('./binding').loadBinding()
const { clientBridge, defaultClient } = require('./client')
const { Engine } = require('./engine')
const { chooseCarrier } = require('./runtime')
const { storeError, liftError } = require('./errors')
const { settle } = require('./settle')
const { normalizeOptions } = require('./options')
const { wireItem } = require('./compat')
const { ARGUMENTS, ANSWERS, installOperations, adminOperations, checked } = require('./operations')
const diagnostics = require('./diagnostics')
const { AsyncResource } = require('node:async_hooks')
const { VERSION_PROPERTY, serialize, withoutVersion, cookieTimes, parseSession, deviceFields } = require('./session')

/**
 * `fn`, run in the async context it was made in wherever it is called from. An AsyncResource
 * of its own, not AsyncResource.bind: on Node 20 that costs ~25 µs a call (bench/own-costs.js
 * saw every call 40-80 µs dearer), this ~0.5 µs.
 */
function bound(fn) {
  const scope = new AsyncResource('connect-dynamodb-rs')
  return (...args) => scope.runInAsyncScope(fn, undefined, ...args)
}

/** The table tools the command line (cli.js) uses: a store's `[ADMIN]()`. Not for apps. */
const ADMIN = Symbol('connect-dynamodb-rs admin')
/** The way the table's methods start a call (lib/operations.js). */
const START = Symbol('connect-dynamodb-rs start')
/** Added to a call's id: the core records its attempts for the request channel. */
const TRACED = 0x80000000

const OPERATIONS = NativeStore.operationTable()
const byName = Object.fromEntries(OPERATIONS.map((op) => [op.method, op]))

/** The store class over `Store` (express-session's, or connect's). */
function defineStore(Store) {
  class DynamoDBStore extends Store {
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
    /** The table, for the diagnostics channels' messages. */
    #table
    /** Publishes the core's attempts on the request channel. */
    #requests

    constructor(options) {
      super(options)
      const { native, client, hooks, transport } = normalizeOptions(options == null ? {} : options)
      const bridge = client === undefined ? undefined : clientBridge(client)
      this.#carrier = chooseCarrier(transport, NativeStore.ownSockets())
      try {
        // The core holds this log function: through a WeakRef, so that it never keeps the store alive.
        const me = new WeakRef(this)
        this.#native = new NativeStore({
          options: native,
          clientConfig: bridge && bridge.config,
          clientCredentials: bridge && bridge.credentials,
          log: (message) => me.deref()?.#log(message),
          trace: (events) => me.deref()?.#requests.publish(events),
          ...this.#engine.hooks(this.#carrier),
          sessionMetadata: Boolean(hooks.sessionMetadata),
        })
      } catch (err) {
        throw liftError(err)
      }
      this.#engine.attach(this.#native)
      this.#hooks = hooks
      this.#devices = this.#native.devices
      if (this.#native.versioning) this.#versions = new WeakMap()
      this.#client = client
      this.#table = this.#native.table
      this.#requests = new diagnostics.RequestTracer(this.#table)
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

    set(sid, sess, cb) {
      if (!this.#versions) {
        return this.#run(cb, 'set', (id) => this.#native.set(id, ...this.#saveArguments(sid, sess, serialize)))
      }
      // Names the version it read, and remembers the one it wrote.
      const versioned = (id) => {
        const args = this.#saveArguments(sid, sess, (data) => serialize(withoutVersion(data)))
        args[5] = this.#versions.get(sess) ?? sess[VERSION_PROPERTY]
        return this.#native.set(id, ...args)
      }
      return this.#run(cb, 'set', versioned, (version) => void this.#versions.set(sess, version))
    }

    /** The core's arguments of a save (its row in the table of operations), from the session; the version read (5) is left out. */
    #saveArguments(sid, sess, toJson) {
      return [ARGUMENTS.sid(sid), toJson(sess), ...this.#times(sess), undefined, this.#device(sess)]
    }

    /** Refreshes the expiry of a live session; resolves `{ expires }`, or null when none exists. */
    touch(sid, sess, cb) {
      if (typeof sess === 'function' && cb === undefined) [sess, cb] = [undefined, sess]
      const op = byName.touch
      return this.#run(
        cb,
        'touch',
        (id) => this.#native[op.native](id, ARGUMENTS.sid(sid), ...this.#times(sess)),
        ANSWERS[op.answer],
      )
    }

    /** What the store sent, skipped, and was billed since it was made. */
    stats() {
      return this.#native.stats()
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
      return {
        format: this.#native.format,
        stats: () => this.#native.stats(),
        ...adminOperations(OPERATIONS, (op, args) => this[START](op, args, undefined)),
      }
    }

    /** One call of the table of operations: `args` checked by kind, the answer shaped by kind. */
    [START](op, args, cb) {
      return this.#run(cb, op.method, (id) => this.#native[op.native](id, ...checked(op, args)), ANSWERS[op.answer])
    }

    /** The device fields a save records, as JSON; undefined when the store does not record them. */
    #device(sess) {
      return this.#devices ? deviceFields(sess, this.#hooks.sessionMetadata) : undefined
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
    #run(cb, op, start, shape = ANSWERS.nothing) {
      if (diagnostics.listened(diagnostics.store) || this.#requests.listening) return this.#traced(cb, op, start, shape)
      return this.#untraced(cb, op, start, shape)
    }

    /**
     * A call traced on the store channel (lib/diagnostics.js), its attempts on the request
     * channel too while that has a subscriber.
     */
    #traced(cb, op, start, shape) {
      const context = { operation: op, table: this.#table }
      let begin = start
      if (this.#requests.listening) {
        begin = (id) => {
          this.#requests.begin(id, context)
          return start(id + TRACED)
        }
      }
      let id
      const started = (given) => {
        id = given
        return begin(given)
      }
      return diagnostics.traceStoreCall(context, cb, (done) =>
        this.#untraced(
          (err, value) => {
            if (id !== undefined) this.#requests.finish(id)
            done(err, value)
          },
          op,
          started,
          shape,
        ),
      )
    }

    #untraced(cb, op, start, shape) {
      if (typeof cb !== 'function') return this.#settle(undefined, op, () => this.#engine.call(start, shape))
      let resolve
      const promise = new Promise((r) => (resolve = r))
      // The core answers from its own callback: the app's callback runs in the async context it
      // called from (its request's AsyncLocalStorage, an APM's active span), as after an await.
      this.#engine.start(
        start,
        bound((err, value, end, version, exact) => {
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
        }),
      )
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
      if (kind === 'event') {
        if (diagnostics.breaker.hasSubscribers)
          diagnostics.breaker.publish({ table: this.#table, state: text === 'disconnect' ? 'open' : 'closed' })
        return void this.emit(text)
      }
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
  installOperations(DynamoDBStore.prototype, OPERATIONS, function (op, args, cb) {
    return this[START](op, args, cb)
  })
  return DynamoDBStore
}

module.exports = { defineStore, ADMIN, OPERATIONS }
