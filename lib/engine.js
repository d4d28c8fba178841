'use strict'

// The JavaScript half of the engine (src/engine.rs, src/host.rs). A call is
// started with a number; the core runs it in turns on this thread and reports
// its end (`done`). Its DynamoDB requests travel on the core's own sockets,
// watched by Node's event loop; where the core cannot own sockets (or with
// `transport: 'node'`) they travel on Node's sockets
// (lib/sockets.js), which hand their bytes to the same HTTP client in the core.
// A wake from one of the core's threads (credentials, the SDK's calls, a
// retry's backoff, a name lookup) comes as `wake` and is answered with `poll`.
//
// The functions the core holds reach the engine only through a WeakRef: a
// store nobody references any more is collected (and its sockets closed),
// while one with calls pending is kept alive until they end.

const { storeError } = require('./errors')
const { trustedCertificates } = require('./trust')
const { NodeSockets } = require('./sockets')

/** Call ids stay below 2^31: the core reads the bit above as "trace this call". */
const MAX_ID = 0x7fffffff

/** Engines with calls pending: alive until their calls end, whoever else lets go of them. */
const busy = new Set()

/** Node's sockets of an engine nobody references any more are closed (the core's own close with it). */
const forgotten = new FinalizationRegistry((sockets) => sockets.destroy())

class Engine {
  #native
  /** Call id -> its settle function. */
  #calls = new Map()
  #last = 0
  /** How many of this engine's calls into the core are on the stack: a call settled during one waits for the next tick. */
  #inside = 0

  #sockets

  /**
   * The parts of NativeStore's constructor that are the engine's: `done`, `wake`, `certificates`
   * (what both ways to DynamoDB trust for HTTPS: Node's CAs) and, for `carrier` 'node', `sockets`
   * (Node's; with 'native' the core's own sockets carry the requests).
   */
  hooks(carrier) {
    const me = new WeakRef(this)
    const done = (id, code, message, value, end, version, exact) =>
      me.deref()?.#done(id, code, message, value, end, version, exact)
    const wake = (id) => me.deref()?.#poll(id)
    if (carrier === 'native') return { done, wake, certificates: trustedCertificates }
    this.#sockets = new NodeSockets()
    forgotten.register(this, this.#sockets)
    return { done, wake, certificates: trustedCertificates, sockets: this.#sockets.hooks() }
  }

  attach(native) {
    this.#native = native
    if (this.#sockets) this.#sockets.attach(native)
  }

  /**
   * Starts a call with `start(id)`; `settle(err, value, end, version, exact)` runs once when the
   * core reports its end (the last three for a session read: when it ends, epoch ms; its version;
   * whether that end is to the ms), never before `start` has returned.
   */
  start(start, settle) {
    const id = this.#nextId()
    this.#calls.set(id, settle)
    busy.add(this)
    try {
      this.#within(() => start(id))
    } catch (err) {
      this.#forget(id)
      process.nextTick(settle, err)
    }
  }

  /** The same as a promise of `shape(value, end, version, exact)` (of the value without a shape); a shape that throws rejects it. */
  call(start, shape) {
    return new Promise((resolve, reject) =>
      this.start(start, (err, value, end, version, exact) => {
        if (err) return reject(err)
        try {
          resolve(shape ? shape(value, end, version, exact) : value)
        } catch (thrown) {
          reject(thrown)
        }
      }),
    )
  }

  #nextId() {
    do this.#last = this.#last === MAX_ID ? 1 : this.#last + 1
    while (this.#calls.has(this.#last))
    return this.#last
  }

  #forget(id) {
    this.#calls.delete(id)
    if (this.#calls.size === 0) busy.delete(this)
  }

  #poll(id) {
    this.#within(() => this.#native.poll(id))
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

  #done(id, code, message, value, end, version, exact) {
    const settle = this.#calls.get(id)
    if (!settle) return
    this.#forget(id)
    const err = code == null ? null : storeError(code, message)
    if (this.#inside > 0) process.nextTick(settle, err, value, end, version, exact)
    else settle(err, value, end, version, exact)
  }
}

module.exports = { Engine }
