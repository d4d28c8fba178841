'use strict'

// The engine: session calls run in turns on Node's thread and their requests
// travel on the shim's own keep-alive pool (lib/transport.js). These tests
// hold it to what the old thread-based path gave: many calls at once, calls
// made from inside a callback, a process that exits when its work is done,
// and replies in every shape an HTTP server may send.

const http = require('node:http')
const { execFile } = require('node:child_process')
const path = require('node:path')
const { Pool, readHead } = require('../lib/transport')
const { newStore, cookieSession, connection, uniqueTable } = require('./helpers')

const root = path.join(__dirname, '..')

/** A server on loopback answering each request with `answer(req, res)`. */
function server(answer) {
  const s = http.createServer(answer)
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)))
}

const request = (pool, timeoutMs = 0) =>
  new Promise((resolve) => pool.request(Buffer.from('POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n'), timeoutMs, (err, res) => resolve({ err, res })))

const poolFor = (s, connectTimeoutMs = 1000) => new Pool({ https: false, host: '127.0.0.1', port: s.address().port, connectTimeoutMs })

describe('the transport', () => {
  test('reads the status, Date, x-amzn-ErrorType and a body by Content-Length', async () => {
    const s = await server((req, res) => {
      req.resume()
      req.on('end', () => {
        res.writeHead(400, { 'x-amzn-ErrorType': 'ThrottlingException:http://internal', 'Content-Length': 2 })
        res.end('{}')
      })
    })
    const pool = poolFor(s)
    const { err, res } = await request(pool)
    expect(err).toBeNull()
    expect(res.status).toBe(400)
    expect(res.errorType).toBe('ThrottlingException:http://internal')
    expect(res.date).toMatch(/GMT$/)
    expect(res.body.toString()).toBe('{}')
    pool.close()
    s.close()
  })

  test('a chunked body and one that ends with the connection arrive whole', async () => {
    const s = await server((req, res) => {
      req.resume()
      res.write('{"a":')
      setTimeout(() => res.end('1}'), 20)
    })
    const pool = poolFor(s)
    const { res } = await request(pool)
    expect(res.body.toString()).toBe('{"a":1}')
    pool.close()
    s.close()
    expect(readHead('HTTP/1.0 200 OK\r\nDate: x')).toMatchObject({ status: 200, close: true, date: 'x' })
    expect(readHead('SSH-2.0')).toBeNull()
  })

  test('a reply cut off mid-body is a network failure, a stalled one a timeout, neither a hang', async () => {
    const s = await server((req, res) => {
      req.resume()
      if (req.url === '/') {
        res.writeHead(200, { 'Content-Length': 100 })
        res.write('{"partial":')
        setTimeout(() => res.socket.destroy(), 20)
      }
    })
    const pool = poolFor(s)
    const cut = await request(pool)
    expect(cut.err).toEqual({ message: expect.stringMatching(/closed|reset|hang up/i), timedOut: false })
    s.removeAllListeners('request')
    s.on('request', () => {}) // never answers
    const stalled = await request(pool, 100)
    expect(stalled.err).toEqual({ message: '', timedOut: true })
    pool.close()
    s.closeAllConnections()
    s.close()
  })

  test('a refused connection fails at once with the reason', async () => {
    const s = await server(() => {})
    const port = s.address().port
    await new Promise((resolve) => s.close(resolve))
    const pool = new Pool({ https: false, host: '127.0.0.1', port, connectTimeoutMs: 1000 })
    const { err } = await request(pool)
    expect(err.message).toMatch(/ECONNREFUSED/)
    expect(err.timedOut).toBe(false)
  })
})

describe('the engine', () => {
  const store = newStore()
  afterAll(() => store.close())

  test('200 calls at once (more than the pool has sockets) each get their own session', async () => {
    await Promise.all(Array.from({ length: 200 }, (_, i) => store.set(`many-${i}`, cookieSession({ i }))))
    const found = await Promise.all(Array.from({ length: 200 }, (_, i) => store.get(`many-${i}`)))
    expect(found.map((sess) => sess.i)).toEqual(Array.from({ length: 200 }, (_, i) => i))
  })

  test('a callback may call the store again, and gets its answer', async () => {
    await store.set('again', cookieSession({ n: 1 }))
    const n = await new Promise((resolve, reject) =>
      store.get('again', (err, sess) => {
        if (err) return reject(err)
        store.set('again', { ...sess, n: sess.n + 1 }, (err2) => {
          if (err2) return reject(err2)
          store.get('again', (err3, sess3) => (err3 ? reject(err3) : resolve(sess3.n)))
        })
      }),
    )
    expect(n).toBe(2)
  })

  test('a process exits on its own after its calls, keep-alive sockets and all', async () => {
    const script = `
      const Store = require(${JSON.stringify(root)})(require('express-session'))
      const store = new Store({ table: ${JSON.stringify(uniqueTable('exit'))}, AWSConfigJSON: ${JSON.stringify(connection())} })
      store.set('s', { cookie: { maxAge: 60000 }, n: 1 }).then(() => store.get('s')).then((s) => console.log('got', s.n))`
    const started = Date.now()
    const { stdout } = await new Promise((resolve, reject) =>
      execFile(process.execPath, ['-e', script], { timeout: 20_000 }, (err, out, errOut) => (err ? reject(Object.assign(err, { errOut })) : resolve({ stdout: out }))),
    )
    expect(stdout.trim()).toBe('got 1')
    expect(Date.now() - started).toBeLessThan(15_000)
  })
})
