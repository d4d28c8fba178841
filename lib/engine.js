'use strict'

// The JavaScript half of the engine (src/engine.rs). A session call is
// started with a number; the core runs it in turns on this thread, asks for
// its DynamoDB requests to be sent (`send`), and reports its end (`done`).
// Replies go back with `reply`/`lost`; a wake from one of the core's threads
// (credentials, the SDK's calls, a retry's backoff) comes as `wake` and is
// answered with `poll`. All of it runs on Node's event loop.

const { Pool } = require('./transport')
const { storeError } = require('./errors')

const MAX_ID = 0xffffffff

class Engine {
  #native
  #pool
  #calls = new Map()
  #last = 0

  /** The three functions NativeStore's constructor takes. */
  hooks() {
    return [
      (id, bytes, timeoutMs) => this.#send(id, bytes, timeoutMs),
      (id, code, message, value) => this.#done(id, code, message, value),
      (id) => this.#native.poll(id),
    ]
  }

  attach(native) {
    this.#native = native
  }

  /** Starts a call with `start(id)`; resolves or rejects when the core reports its end. */
  call(start) {
    return new Promise((resolve, reject) => {
      const id = this.#nextId()
      this.#calls.set(id, { resolve, reject })
      try {
        start(id)
      } catch (err) {
        this.#calls.delete(id)
        reject(err)
      }
    })
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
    if (!this.#pool) this.#pool = new Pool(this.#native.endpoint)
    this.#pool.request(bytes, timeoutMs, (err, response) => {
      try {
        if (err) this.#native.lost(id, err.timedOut, err.message)
        else this.#native.reply(id, response.status, response.date, response.errorType, response.body)
      } catch (thrown) {
        // Never leave the call waiting: hand it the failure instead.
        this.#native.lost(id, false, `the reply could not be read: ${thrown.message}`)
      }
    })
  }

  #done(id, code, message, value) {
    const call = this.#calls.get(id)
    if (!call) return
    this.#calls.delete(id)
    if (code == null) call.resolve(value)
    else call.reject(storeError(code, message))
  }
}

module.exports = { Engine }
