'use strict'

// The engine: calls run in turns on Node's thread, and their requests travel
// on the core's own sockets (watched by Node's event loop) or, where those
// cannot run, on Node's sockets (lib/sockets.js) feeding the same HTTP client
// in the core. These tests hold both carriers to what the old thread-based
// path gave: many calls at once, calls made from inside a callback, a process
// that exits when its work is done, and replies in every shape an HTTP server
// may send. (Hostile servers, stalls and lifecycles: network.test.js.)

const http = require('node:http')
const { execFile } = require('node:child_process')
const path = require('node:path')
const { Engine } = require('../lib/engine')
const { cookieSession, connection, uniqueTable, storeOn, CARRIERS } = require('./helpers')

const root = path.join(__dirname, '..')

/** A server on loopback answering each request with `answer(req, res)`. */
function server(answer) {
  const s = http.createServer(answer)
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)))
}

/** A store talking to the server `s` (which plays DynamoDB), failing fast. */
const storeFor = (carrier, s, options = {}) =>
  storeOn(carrier, {
    table: 'fake',
    initialized: true,
    circuitBreaker: false,
    maxRetries: 0,
    AWSConfigJSON: {
      endpoint: `http://${options.host || '127.0.0.1'}:${s.address().port}`,
      region: 'us-east-1',
      accessKeyId: 'a',
      secretAccessKey: 'b',
    },
    ...options.store,
  })

/** DynamoDB's answer to a GetItem of a live session `{ n }`. */
function itemReply(n) {
  const sess = JSON.stringify({ cookie: { originalMaxAge: 60000 }, n })
  return JSON.stringify({
    Item: { id: { S: 'sess:x' }, expires: { N: String(Math.floor(Date.now() / 1000) + 60) }, sess: { S: sess } },
  })
}

describe("the engine's promise", () => {
  test('a shape that throws rejects the promise (nothing is left pending, nothing thrown at the core)', async () => {
    const engine = new Engine()
    const { done } = engine.hooks('node')
    const started = engine.call(
      (id) => setImmediate(() => done(id, null, null, 'value')),
      () => {
        throw new RangeError('Invalid time value')
      },
    )
    await expect(started).rejects.toThrow('Invalid time value')
  })
})

describe.each(CARRIERS)('the engine, on %s', (carrier) => {
  const store = storeOn(carrier, {})
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

  test('a callback is called after the call returns, even when the call fails at once', async () => {
    let returned = false
    const err = await new Promise((resolve) => {
      store.get('', (e) => resolve({ e, later: returned }))
      returned = true
    })
    expect(err.later).toBe(true)
    expect(err.e.code).toBe('ERR_INVALID_ARGUMENT')
  })

  test('a process exits on its own after its calls, keep-alive sockets and all', async () => {
    const script = `
      const Store = require(${JSON.stringify(root)})(require('express-session'))
      const store = new Store({ table: ${JSON.stringify(uniqueTable('exit'))}, AWSConfigJSON: ${JSON.stringify(connection())} })
      store.set('s', { cookie: { maxAge: 60000 }, n: 1 }).then(() => store.get('s')).then((s) => console.log('got', s.n))`
    const started = Date.now()
    const env = { ...process.env, CONNECT_DYNAMODB_RS_TRANSPORT: carrier === 'node' ? 'node' : '' }
    const { stdout } = await new Promise((resolve, reject) =>
      execFile(process.execPath, ['-e', script], { env, timeout: 20_000 }, (err, out, errOut) =>
        err ? reject(Object.assign(err, { errOut })) : resolve({ stdout: out }),
      ),
    )
    expect(stdout.trim()).toBe('got 1')
    expect(Date.now() - started).toBeLessThan(15_000)
  })

  test('an exception thrown by a callback is an uncaught exception, as from a socket, and the store goes on', async () => {
    const script = `
      const Store = require(${JSON.stringify(root)})(require('express-session'))
      const store = new Store({ table: ${JSON.stringify(uniqueTable('throw'))}, AWSConfigJSON: ${JSON.stringify(connection())} })
      process.on('uncaughtException', (err) => {
        console.log('uncaught', err.message)
        store.get('s', (e, s) => { console.log('then', s && s.n); store.close() })
      })
      store.set('s', { cookie: { maxAge: 60000 }, n: 7 }, () => store.get('s', () => { throw new Error('app bug') }))`
    const env = { ...process.env, CONNECT_DYNAMODB_RS_TRANSPORT: carrier === 'node' ? 'node' : '' }
    const { stdout } = await new Promise((resolve, reject) =>
      execFile(process.execPath, ['-e', script], { env, timeout: 20_000 }, (err, out, errOut) =>
        err ? reject(Object.assign(err, { errOut })) : resolve({ stdout: out }),
      ),
    )
    expect(stdout.trim().split('\n')).toEqual(['uncaught app bug', 'then 7'])
  })

  describe('against servers that misbehave', () => {
    const servers = []
    const listen = async (answer) => {
      const s = await server(answer)
      servers.push(s)
      return s
    }
    afterEach(() => {
      for (const s of servers.splice(0)) {
        s.closeAllConnections()
        s.close()
      }
    })

    test("DynamoDB's error type and status reach the caller as its code", async () => {
      const s = await listen((req, res) => {
        req.resume()
        req.on('end', () => {
          res.writeHead(400, {
            'x-amzn-ErrorType': 'ValidationException:http://internal',
            'Content-Type': 'application/x-amz-json-1.0',
          })
          res.end(JSON.stringify({ message: 'One or more parameter values were invalid' }))
        })
      })
      const err = await storeFor(carrier, s)
        .get('x')
        .catch((e) => e)
      expect(err).toMatchObject({
        code: 'ValidationException',
        name: 'ValidationException',
        message: 'One or more parameter values were invalid',
      })
    })

    test('an item whose expiry is past the last date a Date holds is read, by promise and by callback', async () => {
      const sess = JSON.stringify({ cookie: { expires: '2030-01-01T00:00:00.000Z' }, n: 7 })
      const s = await listen((req, res) => {
        req.resume()
        req.on('end', () =>
          res.end(
            JSON.stringify({ Item: { id: { S: 'sess:x' }, expires: { N: '9000000000000' }, sess: { S: sess } } }),
          ),
        )
      })
      const store = storeFor(carrier, s)
      expect(await store.get('x')).toEqual({ cookie: { expires: '2030-01-01T00:00:00.000Z' }, n: 7 })
      const viaCallback = await new Promise((resolve) => store.get('x', (err, found) => resolve({ err, found })))
      expect(viaCallback).toEqual({ err: null, found: { cookie: { expires: '2030-01-01T00:00:00.000Z' }, n: 7 } })
      store.close()
    })

    test('a chunked reply and one that ends with the connection arrive whole', async () => {
      let n = 0
      const s = await listen((req, res) => {
        req.resume()
        req.on('end', () => {
          n += 1
          const body = itemReply(n)
          if (n === 1) {
            res.write(body.slice(0, 20))
            setTimeout(() => res.end(body.slice(20)), 20)
          } else {
            res.socket.end(`HTTP/1.0 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n\r\n${body}`)
          }
        })
      })
      const store = storeFor(carrier, s)
      expect(await store.get('x')).toMatchObject({ n: 1 })
      expect(await store.get('x')).toMatchObject({ n: 2 })
      store.close()
    })

    test('sequential calls share one kept-alive connection; one the server closed while idle is replaced', async () => {
      const sockets = new Set()
      const s = await listen((req, res) => {
        sockets.add(req.socket)
        req.resume()
        req.on('end', () => res.end(itemReply(sockets.size)))
      })
      const store = storeFor(carrier, s, { store: { maxRetries: 1 } })
      for (let i = 0; i < 5; i++) expect(await store.get('x')).toMatchObject({ n: 1 })
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(await store.get('x')).toMatchObject({ n: 2 })
      store.close()
    })

    test('a reply cut off mid-body is ERR_NETWORK and a stalled one ERR_TIMEOUT, neither a hang', async () => {
      const s = await listen((req, res) => {
        req.resume()
        if (req.headers['x-amz-target'].endsWith('GetItem')) {
          res.writeHead(200, { 'Content-Length': 100 })
          res.write('{"partial":')
          setTimeout(() => res.socket.destroy(), 20)
        }
        // Anything else is never answered.
      })
      const store = storeFor(carrier, s, { store: { timeout: 300 } })
      const cut = await store.get('x').catch((e) => e)
      expect(cut.code).toBe('ERR_NETWORK')
      expect(cut.message).toMatch(/closed|reset|hang up/i)
      const started = Date.now()
      const stalled = await store.destroy('x').catch((e) => e)
      expect(stalled.code).toBe('ERR_TIMEOUT')
      expect(Date.now() - started).toBeLessThan(2000)
      store.close()
    })

    test('a refused connection fails at once with the reason', async () => {
      const s = await server(() => {})
      const port = s.address().port
      await new Promise((resolve) => s.close(resolve))
      const store = storeFor(carrier, { address: () => ({ port }) })
      const started = Date.now()
      const err = await store.get('x').catch((e) => e)
      expect(err.code).toBe('ERR_NETWORK')
      expect(err.message).toMatch(/refused/i)
      expect(Date.now() - started).toBeLessThan(1000)
    })

    test('an endpoint named by host name is looked up, and a name that does not resolve fails with the reason', async () => {
      const s = await listen((req, res) => {
        req.resume()
        req.on('end', () => res.end(itemReply(3)))
      })
      const store = storeFor(carrier, s, { host: 'localhost' })
      expect(await store.get('x')).toMatchObject({ n: 3 })
      store.close()
      const nowhere = storeFor(carrier, s, { host: 'no-such-host.invalid' })
      const err = await nowhere.get('x').catch((e) => e)
      expect(err.code).toBe('ERR_NETWORK')
      expect(err.message).toMatch(/no-such-host\.invalid|ENOTFOUND|not known/i)
    })
  })
})
