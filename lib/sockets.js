'use strict'

// Node's sockets, for the core's HTTP client where the core cannot own its
// sockets (Windows, Bun, Deno, or by choice): this only opens, writes and
// closes connections and runs one timer. The raw bytes each socket receives go
// to the core (src/net/node_carrier.rs), which reads the replies with the same
// parser, pool and limits as on its own sockets. TLS is Node's, trusting what
// lib/trust.js lists.
//
// Nothing here keeps a store alive: the core is held through a WeakRef, so a
// store dropped without close() is collected, and then its sockets close.

const net = require('node:net')
const tls = require('node:tls')
const { tlsSecureContext } = require('./trust')

/** setTimeout's longest delay; the core asks again when a timer fires early. */
const MAX_DELAY_MS = 2 ** 31 - 1

class NodeSockets {
  /** @type {WeakRef<object> | undefined} the NativeStore the bytes go to */
  #core
  /** conn -> socket, for the connections the core has open */
  #sockets = new Map()
  #timer

  /** Where the bytes go: the NativeStore (held weakly). */
  attach(core) {
    this.#core = new WeakRef(core)
  }

  /** The functions the core calls: `{ open, write, close, closeAll, arm }`. They never call the core before they return. */
  hooks() {
    return {
      open: (conn, host, port, https) => this.#open(conn, host, port, https),
      write: (conn, bytes) => {
        const socket = this.#sockets.get(conn)
        if (!socket) throw new Error('the connection went away')
        socket.write(bytes)
      },
      close: (conn) => this.#close(conn),
      closeAll: () => this.destroy(),
      arm: (delayMs) => this.#arm(delayMs),
    }
  }

  /** Closes every connection and stops the timer (the store is gone). */
  destroy() {
    clearTimeout(this.#timer)
    for (const socket of this.#sockets.values()) socket.destroy()
    this.#sockets.clear()
  }

  #open(conn, host, port, https) {
    const socket = https
      ? tls.connect({
          host,
          port,
          servername: net.isIP(host) ? undefined : host,
          secureContext: tlsSecureContext(),
          ALPNProtocols: ['http/1.1'],
        })
      : net.connect({ host, port })
    socket.setNoDelay(true)
    // A store with calls pending keeps the process alive; a socket never does on its own.
    socket.unref()
    this.#sockets.set(conn, socket)
    const mine = () => this.#sockets.get(conn) === socket
    socket.once(https ? 'secureConnect' : 'connect', () => {
      if (mine()) this.#tell('connected', conn)
    })
    socket.on('data', (chunk) => {
      if (mine()) this.#tell('data', conn, chunk, socket.writableLength === 0)
      else socket.destroy()
    })
    const ended = (why) => {
      if (!mine()) return
      this.#sockets.delete(conn)
      socket.destroy()
      this.#tell('closed', conn, why)
    }
    socket.on('error', (err) => ended(err.message || String(err)))
    socket.on('end', () => ended(null))
    socket.on('close', () => ended(null))
  }

  #close(conn) {
    const socket = this.#sockets.get(conn)
    this.#sockets.delete(conn)
    if (socket) socket.destroy()
  }

  /** The core's timer: reported after Node's loop has read what arrived (setImmediate runs after the poll phase). */
  #arm(delayMs) {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (!(delayMs >= 0)) return
    this.#timer = setTimeout(() => setImmediate(() => this.#tell('timer')), Math.min(delayMs, MAX_DELAY_MS))
    this.#timer.unref()
  }

  #tell(event, ...args) {
    const core = this.#core && this.#core.deref()
    if (!core) return this.destroy()
    core[event](...args)
  }
}

module.exports = { NodeSockets }
