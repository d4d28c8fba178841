'use strict'

// The store's second transport, for where the core cannot own sockets (or
// with CONNECT_DYNAMODB_RS_TRANSPORT=node): signed HTTP/1.1 requests (bytes
// the Rust core built) carried on a small keep-alive pool of Node sockets, one
// request in flight per socket, and the parts of each reply the core reads.
// TLS is Node's, trusting what lib/trust.js lists.
// It reads only what DynamoDB sends: a status line, headers, and a body by
// Content-Length, chunked, or until the connection closes.

const net = require('node:net')
const tls = require('node:tls')
const { tlsCaOption } = require('./trust')

const HEAD_END = Buffer.from('\r\n\r\n')
/** An idle connection is closed after this long (DynamoDB's own limit is longer). */
const IDLE_MS = 30_000
const MAX_SOCKETS = 128

/** A failed request: `timedOut` with an empty message means the attempt's limit ran out. */
function lost(message, timedOut = false) {
  return { message, timedOut }
}

/** The fields of a response head the core needs, or null when it is not HTTP. */
function readHead(head) {
  if (!head.startsWith('HTTP/1.')) return null
  const response = { status: Number(head.slice(9, 12)), length: -1, chunked: false, close: head.startsWith('HTTP/1.0') }
  let at = head.indexOf('\r\n')
  while (at !== -1) {
    const next = head.indexOf('\r\n', at + 2)
    const line = next === -1 ? head.slice(at + 2) : head.slice(at + 2, next)
    const colon = line.indexOf(':')
    if (colon > 0) {
      const value = line.slice(colon + 1).trim()
      switch (line.slice(0, colon).toLowerCase()) {
        case 'content-length':
          response.length = Number(value)
          break
        case 'transfer-encoding':
          response.chunked = value.toLowerCase().includes('chunked')
          break
        case 'connection':
          response.close = value.toLowerCase() === 'close'
          break
        case 'date':
          response.date = value
          break
        case 'x-amzn-errortype':
          response.errorType = value
          break
      }
    }
    at = next
  }
  return response
}

/** The chunked body starting at `at`, or null while more bytes are due. */
function readChunks(buf, at) {
  const parts = []
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', at)
    if (lineEnd < 0) return null
    const size = parseInt(buf.toString('latin1', at, lineEnd), 16)
    if (!(size >= 0)) throw new Error('a malformed chunked body')
    if (size === 0) return buf.length < lineEnd + 4 ? null : Buffer.concat(parts)
    if (buf.length < lineEnd + 2 + size + 2) return null
    parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
}

class Connection {
  #pool
  #socket
  #buffer = null
  #request = null
  #connected = false
  #connectTimer

  constructor(pool) {
    this.#pool = pool
    const { https, host, port, connectTimeoutMs } = pool.endpoint
    this.#socket = https
      ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ca: tlsCaOption(), ALPNProtocols: ['http/1.1'] })
      : net.connect({ host, port })
    this.#socket.setNoDelay(true)
    this.#socket.once(https ? 'secureConnect' : 'connect', () => {
      this.#connected = true
      clearTimeout(this.#connectTimer)
    })
    this.#socket.on('data', (chunk) => this.#data(chunk))
    this.#socket.on('error', (err) => this.#end(lost(err.message)))
    this.#socket.on('close', () => this.#end(lost('the connection closed before the reply was complete')))
    this.#socket.on('timeout', () => this.#socket.destroy())
    if (connectTimeoutMs > 0) {
      this.#connectTimer = setTimeout(() => {
        this.#end(lost(`connecting to ${host}:${port} timed out after ${connectTimeoutMs} ms`, true))
      }, connectTimeoutMs)
    }
  }

  /** Sends one request; `request.done(err, response)` is called once. */
  send(request) {
    this.#request = request
    request.connection = this
    this.#buffer = null
    this.#socket.ref()
    this.#socket.setTimeout(0)
    this.#socket.write(request.bytes)
  }

  /** Its request gave up (timed out): the reply, if any, is no longer read. */
  abandon() {
    this.#request = null
    this.#drop()
  }

  destroy() {
    this.#drop()
  }

  #idle() {
    this.#socket.unref()
    this.#socket.setTimeout(IDLE_MS)
  }

  #data(chunk) {
    if (!this.#request) return this.#drop() // nothing was asked: not a server to keep talking to
    this.#buffer = this.#buffer ? Buffer.concat([this.#buffer, chunk]) : chunk
    let response
    try {
      response = this.#read(false)
    } catch (err) {
      return this.#end(lost(`DynamoDB's reply could not be read: ${err.message}`))
    }
    if (response) this.#finish(response)
  }

  /** The whole response in the buffer, or null while more bytes are due. */
  #read(ended) {
    const buf = this.#buffer
    const headEnd = buf.indexOf(HEAD_END)
    if (headEnd < 0) return null
    const response = readHead(buf.toString('latin1', 0, headEnd))
    if (!response) throw new Error('not an HTTP response')
    const start = headEnd + 4
    if (response.status < 200 && response.status >= 100) {
      this.#buffer = buf.subarray(start)
      return this.#buffer.length ? this.#read(ended) : null
    }
    if (response.chunked) response.body = readChunks(buf, start)
    else if (response.length >= 0) response.body = buf.length < start + response.length ? null : buf.subarray(start, start + response.length)
    else if (ended) response.body = buf.subarray(start)
    else response.body = null
    if (!response.chunked && response.length < 0) response.close = true
    return response.body ? response : null
  }

  #finish(response) {
    const request = this.#request
    this.#request = null
    this.#buffer = null
    if (response.close) this.#drop()
    else {
      this.#idle()
      this.#pool.release(this)
    }
    request.done(null, response)
  }

  /** The socket failed or closed: a request in flight gets the reason, unless its reply was whole. */
  #end(reason) {
    const request = this.#request
    if (request && this.#buffer) {
      try {
        const response = this.#read(true)
        if (response) return this.#finish(response)
      } catch {
        // Cut off: reported below.
      }
    }
    this.#request = null
    this.#drop()
    if (request) request.done(reason)
  }

  #drop() {
    clearTimeout(this.#connectTimer)
    this.#pool.forget(this)
    this.#socket.destroy()
  }

  get connected() {
    return this.#connected
  }
}

/** Keep-alive connections to one endpoint `{ https, host, port, connectTimeoutMs }`. */
class Pool {
  #idle = []
  #all = new Set()
  #waiting = []
  #closed = false

  constructor(endpoint, maxSockets = MAX_SOCKETS) {
    this.endpoint = endpoint
    this.maxSockets = maxSockets
  }

  /**
   * Sends `bytes` (a whole request); `done(err, { status, date, errorType, body })`, where `err`
   * is `{ message, timedOut }`. With `timeoutMs` > 0 the request gives up after that long.
   */
  request(bytes, timeoutMs, done) {
    const request = { bytes, done: once(done), connection: null, timer: undefined }
    if (timeoutMs > 0) {
      request.timer = setTimeout(() => this.#timeout(request), timeoutMs)
      const finish = request.done
      request.done = (err, response) => {
        clearTimeout(request.timer)
        finish(err, response)
      }
    }
    if (this.#closed) return request.done(lost('the store was closed'))
    const connection = this.#idle.pop() || (this.#all.size < this.maxSockets ? this.#open() : null)
    if (connection) connection.send(request)
    else this.#waiting.push(request)
  }

  #timeout(request) {
    const waiting = this.#waiting.indexOf(request)
    if (waiting >= 0) this.#waiting.splice(waiting, 1)
    if (request.connection) request.connection.abandon()
    request.done(lost('', true))
  }

  release(connection) {
    const next = this.#waiting.shift()
    if (next) connection.send(next)
    else if (this.#closed) connection.destroy()
    else this.#idle.push(connection)
  }

  forget(connection) {
    if (!this.#all.delete(connection)) return
    const at = this.#idle.indexOf(connection)
    if (at >= 0) this.#idle.splice(at, 1)
    const next = this.#waiting.shift()
    if (next) this.#open().send(next)
  }

  /** Closes idle connections now and busy ones when their reply is in. */
  close() {
    this.#closed = true
    for (const connection of this.#idle.splice(0)) connection.destroy()
  }

  #open() {
    const connection = new Connection(this)
    this.#all.add(connection)
    return connection
  }
}

function once(fn) {
  let called = false
  return (...args) => {
    if (called) return
    called = true
    fn(...args)
  }
}

module.exports = { Pool, readHead }
