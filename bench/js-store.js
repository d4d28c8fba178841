'use strict'

// A session store written by hand in plain JavaScript, with no SDK: node:http
// with a keep-alive agent, SigV4 with node:crypto, connect-dynamodb's item
// layout. It is the floor for any pure-JS store, and so the benchmark's third
// column: what a careful JS developer gets in a day. It has no retries, no
// time limits and no error mapping; it is not meant for production.
//
// `transport: 'net'` sends the same bytes on raw sockets with a minimal
// HTTP/1.1 reader (bench/raw-http.js) instead of node:http, to tell the cost
// of node:http apart from the cost of the rest.

const crypto = require('node:crypto')
const http = require('node:http')
const { Store } = require('express-session')
const { RawHttp } = require('./raw-http')

const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex')
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest()

class JsStore extends Store {
  constructor({
    endpoint,
    region = 'us-east-1',
    table,
    accessKeyId,
    secretAccessKey,
    prefix = 'sess:',
    transport = 'http',
  }) {
    super()
    const url = new URL(endpoint)
    this.host = url.host
    this.options = { hostname: url.hostname, port: url.port, path: '/', method: 'POST' }
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
    this.raw = transport === 'net' ? new RawHttp(url.hostname, Number(url.port)) : null
    Object.assign(this, { region, table, accessKeyId, secretAccessKey, prefix })
    this.signingDay = ''
    this.signingKey = null
  }

  get(sid, cb) {
    const body = { TableName: this.table, Key: { id: { S: this.prefix + sid } }, ConsistentRead: true }
    this.#call('GetItem', body, cb, (reply) => {
      const item = reply.Item
      if (!item || !item.sess || Number(item.expires?.N) <= Math.floor(Date.now() / 1000)) return null
      return JSON.parse(item.sess.S)
    })
  }

  set(sid, sess, cb) {
    const item = {
      id: { S: this.prefix + sid },
      expires: { N: String(this.#expires(sess)) },
      type: { S: 'connect-session' },
      sess: { S: JSON.stringify(sess) },
    }
    this.#call('PutItem', { TableName: this.table, Item: item }, cb, () => undefined)
  }

  touch(sid, sess, cb) {
    const body = {
      TableName: this.table,
      Key: { id: { S: this.prefix + sid } },
      UpdateExpression: 'SET expires = :e',
      ExpressionAttributeValues: { ':e': { N: String(this.#expires(sess)) } },
    }
    this.#call('UpdateItem', body, cb, () => undefined)
  }

  destroy(sid, cb) {
    this.#call('DeleteItem', { TableName: this.table, Key: { id: { S: this.prefix + sid } } }, cb, () => undefined)
  }

  close(cb) {
    this.agent.destroy()
    if (this.raw) this.raw.close()
    if (cb) cb()
  }

  #expires(sess) {
    const at =
      sess && sess.cookie && sess.cookie.expires ? new Date(sess.cookie.expires).getTime() : Date.now() + 86_400_000
    return Math.ceil(at / 1000)
  }

  #call(operation, body, cb, read) {
    const payload = JSON.stringify(body)
    const headers = this.#sign(operation, payload)
    const done = (err, status, text) => {
      if (err) return cb(err)
      let reply
      try {
        reply = JSON.parse(text)
      } catch (e) {
        return cb(e)
      }
      if (status !== 200)
        return cb(
          Object.assign(new Error(reply.message || reply.Message || `HTTP ${status}`), {
            code: String(reply.__type).split('#').pop(),
          }),
        )
      let value
      try {
        value = read(reply)
      } catch (e) {
        return cb(e)
      }
      cb(null, value)
    }
    if (this.raw) return this.raw.post(headers, payload, done)
    const req = http.request({ ...this.options, agent: this.agent, headers }, (res) => {
      const chunks = []
      res.on('data', (chunk) => chunks.push(chunk))
      res.on('end', () => done(null, res.statusCode, Buffer.concat(chunks).toString('utf8')))
      res.on('error', done)
    })
    req.on('error', done)
    req.end(payload)
  }

  /** SigV4 headers for one POST / of `payload`. */
  #sign(operation, payload) {
    const amzDate = new Date().toISOString().replace(/[:-]|\.\d{3}/g, '')
    const day = amzDate.slice(0, 8)
    if (day !== this.signingDay) {
      const kDate = hmac(`AWS4${this.secretAccessKey}`, day)
      this.signingKey = hmac(hmac(hmac(kDate, this.region), 'dynamodb'), 'aws4_request')
      this.signingDay = day
    }
    const target = `DynamoDB_20120810.${operation}`
    const signed = 'content-type;host;x-amz-date;x-amz-target'
    const canonical = `POST\n/\n\ncontent-type:application/x-amz-json-1.0\nhost:${this.host}\nx-amz-date:${amzDate}\nx-amz-target:${target}\n\n${signed}\n${sha256(payload)}`
    const scope = `${day}/${this.region}/dynamodb/aws4_request`
    const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256(canonical)}`
    const signature = crypto.createHmac('sha256', this.signingKey).update(toSign).digest('hex')
    return {
      'content-type': 'application/x-amz-json-1.0',
      host: this.host,
      'x-amz-date': amzDate,
      'x-amz-target': target,
      'content-length': Buffer.byteLength(payload),
      authorization: `AWS4-HMAC-SHA256 Credential=${this.accessKeyId}/${scope}, SignedHeaders=${signed}, Signature=${signature}`,
    }
  }
}

module.exports = { JsStore }
