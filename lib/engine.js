'use strict'

// The JavaScript half of the engine (src/engine.rs, src/host.rs). A call is
// started with a number; the core runs it in turns on this thread and reports
// its end (`done`). Its DynamoDB requests travel on the core's own sockets,
// watched by Node's event loop; where the core cannot own sockets (or with
// CONNECT_DYNAMODB_RS_TRANSPORT=node) they travel on lib/transport.js instead:
// the core asks for each to be sent (`send`), and the reply goes back with
// `reply`/`lost`. A wake from one of the core's threads (credentials, the
// SDK's calls, a retry's backoff) comes as `wake` and is answered with `poll`.

const { storeError } = require('./errors')
const { trustedCertificates } = require('./trust')

const MAX_ID = 0xffffffff

class Engine {
  #native
  #pool
  /** Call id -> its settle function. */
  #calls = new Map()
  #last = 0
  /** How many of this engine's calls into the core are on the stack: a call settled during one waits for the next tick. */
  #inside = 0

  /** The functions NativeStore's constructor takes after the log: done, wake, certificates, send. */
  hooks(ownSockets) {
    const done = (id, code, message, value, expires, version) => this.#done(id, code, message, value, expires, version)
    const wake = (id) => this.#within(() => this.#native.poll(id))
    if (ownSockets && process.env.CONNECT_DYNAMODB_RS_TRANSPORT !== 'node') return [done, wake, trustedCertificates, undefined]
    return [done, wake, undefined, (id, bytes, timeoutMs) => this.#send(id, bytes, timeoutMs)]
  }

  attach(native) {
    this.#native = native
  }

  /**
   * Starts a call with `start(id)`; `settle(err, value, expires, version)` runs once when the core
   * reports its end (the last two for a session read), never before `start` has returned.
   */
  start(start, settle) {
    const id = this.#nextId()
    this.#calls.set(id, settle)
    try {
      this.#within(() => start(id))
    } catch (err) {
      this.#calls.delete(id)
      process.nextTick(settle, err)
    }
  }

  /** The same as a promise of `shape(value, expires, version)` (of the value without a shape); a shape that throws rejects it. */
  call(start, shape) {
    return new Promise((resolve, reject) =>
      this.start(start, (err, value, expires, version) => {
        if (err) return reject(err)
        try {
          resolve(shape ? shape(value, expires, version) : value)
        } catch (thrown) {
          reject(thrown)
        }
      }),
    )
  }

  close() {
    if (this.#pool) this.#pool.close()
  }

  #nextId() {
    do this.#last = this.#last === MAX_ID ? 1 : this.#last + 1
    while (this.#calls.has(this.#last))
    return this.#last
  }

  #send(id, bytes, timeoutMs) {
    if (!this.#pool) {
      const { Pool } = require('./transport')
      this.#pool = new Pool(this.#native.endpoint)
    }
    this.#pool.request(bytes, timeoutMs, (err, response) => {
      this.#within(() => {
        try {
          if (err) this.#native.lost(id, err.timedOut, err.message)
          else this.#native.reply(id, response.status, response.date, response.errorType, response.body)
        } catch (thrown) {
          // Never leave the call waiting: hand it the failure instead.
          this.#native.lost(id, false, `the reply could not be read: ${thrown.message}`)
        }
      })
    })
  }

  /** Runs `fn`, a call into the core from JavaScript: calls it settles settle on a later tick. */
  #within(fn) {
    this.#inside++
    try {
      return fn()
    } finally {
      this.#inside--
    }
  }

  #done(id, code, message, value, expires, version) {
    const settle = this.#calls.get(id)
    if (!settle) return
    this.#calls.delete(id)
    const err = code == null ? null : storeError(code, message)
    if (this.#inside > 0) process.nextTick(settle, err, value, expires, version)
    else settle(err, value, expires, version)
  }
}

module.exports = { Engine }
