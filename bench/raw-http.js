'use strict'

// HTTP/1.1 POSTs on a small keep-alive pool of node:net sockets, one request
// in flight per socket, with the least a reader needs: the status line,
// Content-Length or chunked bodies, and `connection: close`. The hand-written
// JS store's "net" variant (bench/js-store.js) uses it, to tell what node:http
// costs; it is not a general HTTP client.

const net = require('node:net')

const HEAD_END = Buffer.from('\r\n\r\n')

class Connection {
  constructor(pool) {
    this.pool = pool
    this.socket = net.connect({ host: pool.host, port: pool.port, noDelay: true })
    this.socket.on('data', (chunk) => this.#data(chunk))
    this.socket.on('error', (err) => this.#fail(err))
    this.socket.on('close', () => this.#fail(new Error('the connection closed')))
    this.pending = null
    this.buffer = null
  }

  send(bytes, cb) {
    this.pending = cb
    this.buffer = null
    this.socket.write(bytes)
  }

  #data(chunk) {
    this.buffer = this.buffer ? Buffer.concat([this.buffer, chunk]) : chunk
    const response = readResponse(this.buffer)
    if (!response) return
    const cb = this.pending
    this.pending = null
    this.buffer = null
    if (response.close) this.#drop()
    else this.pool.release(this)
    cb(null, response.status, response.body)
  }

  #fail(err) {
    this.#drop()
    const cb = this.pending
    this.pending = null
    if (cb) cb(err)
  }

  #drop() {
    this.pool.forget(this)
    this.socket.destroy()
  }
}

/** A whole response in `buf`, or null while more bytes are due. */
function readResponse(buf) {
  const headEnd = buf.indexOf(HEAD_END)
  if (headEnd < 0) return null
  const head = buf.toString('latin1', 0, headEnd)
  const status = Number(head.slice(9, 12))
  const lower = head.toLowerCase()
  const close = lower.includes('\r\nconnection: close')
  const start = headEnd + 4
  const length = /\r\ncontent-length: *(\d+)/.exec(lower)
  if (length) {
    const end = start + Number(length[1])
    return buf.length < end ? null : { status, close, body: buf.subarray(start, end) }
  }
  if (!lower.includes('\r\ntransfer-encoding: chunked')) return null
  const parts = []
  let at = start
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', at)
    if (lineEnd < 0) return null
    const size = parseInt(buf.toString('latin1', at, lineEnd), 16)
    if (size === 0) return buf.length < lineEnd + 4 ? null : { status, close, body: Buffer.concat(parts) }
    if (buf.length < lineEnd + 2 + size + 2) return null
    parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
}

class RawHttp {
  constructor(host, port, max = 64) {
    Object.assign(this, { host, port, max })
    this.idle = []
    this.all = new Set()
    this.waiting = []
  }

  /** Sends a whole request (head and body); `cb(err, status, bodyBuffer)`. */
  send(bytes, cb) {
    const connection = this.idle.pop() || (this.all.size < this.max ? this.#open() : null)
    if (connection) connection.send(bytes, cb)
    else this.waiting.push([bytes, cb])
  }

  /** POST / with these headers; `cb(err, status, bodyText)`. */
  post(headers, payload, cb) {
    let head = 'POST / HTTP/1.1\r\n'
    for (const name in headers) head += `${name}: ${headers[name]}\r\n`
    this.send(Buffer.from(`${head}\r\n${payload}`), (err, status, body) =>
      err ? cb(err) : cb(null, status, body.toString('utf8')),
    )
  }

  release(connection) {
    const next = this.waiting.shift()
    if (next) connection.send(...next)
    else this.idle.push(connection)
  }

  forget(connection) {
    this.all.delete(connection)
    this.idle = this.idle.filter((c) => c !== connection)
  }

  close() {
    for (const connection of this.all) connection.socket.destroy()
  }

  #open() {
    const connection = new Connection(this)
    this.all.add(connection)
    return connection
  }
}

module.exports = { RawHttp, readResponse }
