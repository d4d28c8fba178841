'use strict'

// The store's HTTP client against servers that misbehave on purpose, on both
// carriers (the core's own sockets, and Node's feeding the same client): no
// reply may crash the process, grow memory without bound, time out a reply
// that has arrived, send a write twice, or hand one call another's reply.
// The codec and the pool are also tested alone, with random input
// (src/net/http.rs, src/net/pool.rs); these are the same rules end to end.

const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { execFile, execFileSync } = require('node:child_process')
const { rawServer, reply, itemBody, versionedTable } = require('./fixtures/raw-server')
const { makeCertificates } = require('./fixtures/certificates')
const { cookieSession, connection, endpoint, uniqueTable, storeOn, CARRIERS } = require('./helpers')

const root = path.join(__dirname, '..')
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** A store whose DynamoDB is the raw server `s`, failing fast. */
const storeAt = (carrier, s, options = {}) =>
  storeOn(carrier, {
    table: 'fake',
    initialized: true,
    circuitBreaker: false,
    maxRetries: 0,
    AWSConfigJSON: { endpoint: s.endpoint, region: 'us-east-1', accessKeyId: 'a', secretAccessKey: 'b' },
    ...options,
  })

/** The key a GetItem asked for. */
const keyOf = (request) => request.body && request.body.Key && request.body.Key.id.S

/** Writes `chunk` until the socket closes (a server that never stops talking). */
function flood(socket, chunk) {
  const pump = () => {
    while (!socket.destroyed && socket.write(chunk));
    if (!socket.destroyed) socket.once('drain', pump)
  }
  pump()
}

/** Runs `script` in a new Node process; resolves `{ code, signal, stdout, stderr }`. */
function runNode(args, script, env = {}, timeout = 60_000) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...args, '-e', script],
      { env: { ...process.env, ...env }, timeout, cwd: root },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, signal: err ? err.signal : null, stdout, stderr }),
    )
  })
}

describe.each(CARRIERS)('the HTTP client, on %s, against servers that misbehave', (carrier) => {
  const servers = []
  const stores = []
  const listen = async (answer, options) => {
    const s = await rawServer(answer, options)
    servers.push(s)
    return s
  }
  const storeFor = (s, options) => {
    const store = storeAt(carrier, s, options)
    stores.push(store)
    return store
  }
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close()
    for (const s of servers.splice(0)) await s.close()
  })

  test('a chunk size that overflows is ERR_INVALID_RESPONSE, not a crash, and its connection is not used again', async () => {
    const s = await listen(({ socket, index }) => {
      if (index === 0) socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nxx')
      else socket.write(reply(itemBody('sess:x', { n: 1 })))
    })
    const store = storeFor(s)
    const err = await store.get('x').catch((e) => e)
    expect(err.code).toBe('ERR_INVALID_RESPONSE')
    expect(err.message).toMatch(/chunked|larger than DynamoDB sends/)
    expect(await store.get('x')).toMatchObject({ n: 1 })
    expect(s.requests[1].conn).not.toBe(s.requests[0].conn)
  })

  test.each([
    [
      'a Content-Length past what DynamoDB sends',
      (socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n'),
    ],
    [
      'an endless chunked body',
      (socket) => {
        socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')
        flood(socket, `10000\r\n${'x'.repeat(0x10000)}\r\n`)
      },
    ],
    [
      'a body until the close that never closes',
      (socket) => {
        socket.write('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n')
        flood(socket, 'y'.repeat(65536))
      },
    ],
    ['a flood of interim (1xx) heads', (socket) => flood(socket, 'HTTP/1.1 100 Continue\r\n\r\n'.repeat(100))],
    ['a head that never ends', (socket) => flood(socket, `x-filler: ${'z'.repeat(1000)}\r\n`)],
  ])('%s fails with ERR_INVALID_RESPONSE, with no time limit set', async (_, answer) => {
    const s = await listen(({ socket }) => answer(socket))
    const store = storeFor(s, { timeout: 0 })
    const before = process.memoryUsage().rss
    const err = await store.get('x').catch((e) => e)
    expect(err.code).toBe('ERR_INVALID_RESPONSE')
    expect(err.message).toMatch(/larger than DynamoDB sends|interim|head is too large/)
    // What was buffered is bounded by the reply limit (32 MB), not by what the server sends.
    expect(process.memoryUsage().rss - before).toBeLessThan(160 * 1024 * 1024)
  })

  test('bytes after a whole reply fail the call and close the connection', async () => {
    const s = await listen(({ socket, index }) => {
      const answer = reply(itemBody('sess:x', { n: index }))
      socket.write(index === 0 ? Buffer.concat([answer, answer]) : answer)
    })
    const store = storeFor(s)
    const err = await store.get('x').catch((e) => e)
    expect(err.code).toBe('ERR_INVALID_RESPONSE')
    expect(err.message).toMatch(/more than one reply/)
    expect(await store.get('x')).toMatchObject({ n: 1 })
    expect(s.requests[1].conn).not.toBe(s.requests[0].conn)
  })

  test('a reply with another session in it is never served, and no connection is used again after it', async () => {
    const s = await listen(({ socket, index }) => {
      // A desynced proxy: carol's read answered with bob's session.
      const key = index === 0 ? 'sess:bob' : keyOf(s.requests[index])
      socket.write(reply(itemBody(key, { user: key.slice(5) })))
    })
    const store = storeFor(s)
    const err = await store.get('carol').catch((e) => e)
    expect(err.code).toBe('ERR_INVALID_RESPONSE')
    expect(JSON.stringify(err)).not.toMatch(/bob/)
    expect(await store.get('carol')).toEqual({ user: 'carol' })
    expect(s.requests[1].conn).not.toBe(s.requests[0].conn)
  })

  test('a duplicated reply closes the connection it comes on; the next call gets its own reply', async () => {
    const s = await listen(({ socket, index }) => {
      const answer = reply(itemBody(keyOf(s.requests[index]), { n: index }))
      socket.write(answer)
      if (index === 0) setTimeout(() => socket.write(answer), 10)
    })
    const store = storeFor(s)
    expect(await store.get('x')).toEqual({ n: 0 })
    await delay(50)
    expect(await store.get('y')).toEqual({ n: 1 })
    expect(s.requests[1].conn).not.toBe(s.requests[0].conn)
  })

  test('a stale reply that arrives with the next request is never served as its answer', async () => {
    let stale
    const s = await listen(({ socket, index }) => {
      const answer = reply(itemBody(keyOf(s.requests[index]), { n: index }))
      if (index === 0) {
        stale = answer
        socket.write(answer)
      } else if (index === 1) socket.write(Buffer.concat([stale, answer]))
      else socket.write(answer)
    })
    const store = storeFor(s)
    expect(await store.get('x')).toEqual({ n: 0 })
    const second = await store.get('y').catch((e) => e)
    expect(second.code).toBe('ERR_INVALID_RESPONSE')
    expect(await store.get('y')).toEqual({ n: 2 })
  })

  test('a server that closes after each reply without saying so: 50 calls in a row succeed, retries off', async () => {
    const s = await listen(({ socket, index }) => {
      socket.write(reply(itemBody(keyOf(s.requests[index]), { n: index })))
      socket.end()
    })
    const store = storeFor(s)
    for (let i = 0; i < 50; i++) expect(await store.get('x')).toMatchObject({ n: expect.any(Number) })
    expect(store.stats().retries).toBe(0)
  })

  test('a chunked reply with trailers is read; a chunk without its line end is an error', async () => {
    const s = await listen(({ socket, index }) => {
      const body = itemBody('sess:x', { n: 7 })
      const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
      const size = Buffer.byteLength(body).toString(16)
      if (index === 0) socket.write(`${head}${size};x=1\r\n${body}\r\n0\r\nx-amz-crc32: 1\r\n\r\n`)
      else socket.write(`${head}${size}\r\n${body}XX0\r\n\r\n`)
    })
    const store = storeFor(s)
    expect(await store.get('x')).toEqual({ n: 7 })
    expect((await store.get('x').catch((e) => e)).code).toBe('ERR_INVALID_RESPONSE')
  })

  test('a reply split at any byte reads the same', async () => {
    const whole = reply(itemBody('sess:x', { n: 5 }))
    const cuts = Array.from({ length: 40 }, (_, i) => Math.floor(((i + 1) * whole.length) / 41))
    const s = await listen(({ socket, index }) => {
      const cut = cuts[index % cuts.length]
      socket.write(whole.subarray(0, cut))
      setTimeout(() => socket.write(whole.subarray(cut)), 2)
    })
    const store = storeFor(s)
    for (const _ of cuts) expect(await store.get('x')).toEqual({ n: 5 })
    expect(new Set(s.requests.map((r) => r.conn)).size).toBe(1)
  })

  test('a connection closed or reset at any point of a reply fails the call with ERR_NETWORK, never a hang', async () => {
    const whole = reply(itemBody('sess:x', { n: 5 }))
    const points = [1, 9, 20, whole.indexOf('\r\n\r\n') + 2, whole.length - 1]
    const s = await listen(({ socket, index }) => {
      const point = points[Math.floor(index / 2) % points.length]
      socket.write(whole.subarray(0, point), () => (index % 2 ? socket.resetAndDestroy() : socket.end()))
    })
    const store = storeFor(s, { timeout: 2000 })
    for (let i = 0; i < points.length * 2; i++) {
      const err = await store.get('x').catch((e) => e)
      expect(err.code).toBe('ERR_NETWORK')
    }
  })

  test('a connection the server ends just after a whole reply delivers that reply', async () => {
    const s = await listen(({ socket }) => socket.end(reply(itemBody('sess:x', { n: 9 }))))
    const store = storeFor(s)
    expect(await store.get('x')).toEqual({ n: 9 })
  })

  test('a reply followed by a reset is read; an early error then a reset reaches the caller with its code', async () => {
    const s = await listen(({ socket, index }) => {
      if (index < 10)
        socket.write(reply(itemBody('sess:x', { n: index }), ['Connection: close']), () => socket.resetAndDestroy())
      else {
        const body = JSON.stringify({
          __type: 'com.amazon.coral.validate#ValidationException',
          message: 'Item size has exceeded the maximum allowed size',
        })
        const head = `HTTP/1.1 400 Bad Request\r\nx-amzn-ErrorType: ValidationException\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`
        socket.write(head + body, () => socket.resetAndDestroy())
      }
    })
    const store = storeFor(s)
    for (let i = 0; i < 10; i++) expect(await store.get('x')).toEqual({ n: i })
    // The server answers before it has read the request, and resets the rest.
    const err = await store.set('big', cookieSession({ blob: 'x'.repeat(300_000) })).catch((e) => e)
    expect(err.code).toBe('ValidationException')
  })

  test('a versioned save sent again after its connection closed unanswered is not refused as conflicting with itself', async () => {
    const table = versionedTable()
    let puts = 0
    const s = await listen((request) => {
      const answer = table.answer(request)
      if (request.target === 'PutItem' && ++puts === 2) return request.socket.end() // applied, then gone without a word
      request.socket.write(answer)
    })
    const store = storeFor(s, { versioning: true })
    await store.set('s', cookieSession({ n: 0 }))
    const read = await store.get('s')
    await store.set('s', { ...read, n: 1 })
    expect(puts).toBe(3)
    expect(JSON.parse(table.items.get('sess:s').sess.S)).toMatchObject({ n: 1 })
    expect(store.stats().retries).toBe(0)
  })

  test('a retry that runs after close() keeps no connection open', async () => {
    const s = await listen(({ socket, index }) => {
      if (index > 0) return socket.write(reply(itemBody('sess:x', { n: index })))
      const body = '{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}'
      socket.write(
        `HTTP/1.1 400 Bad Request\r\nx-amzn-ErrorType: ThrottlingException\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      )
    })
    const store = storeFor(s, { maxRetries: 3 })
    const got = store.get('x')
    while (s.requests.length === 0) await delay(1)
    await store.close()
    expect(await got).toEqual({ n: 1 })
    for (let i = 0; i < 50 && s.open.size > 0; i++) await delay(20)
    expect(s.open.size).toBe(0)
  })

  test('a session read refuses a reply larger than an item can be', async () => {
    const s = await listen(({ socket }) => socket.write(reply(itemBody('sess:x', { big: 'b'.repeat(2_000_000) }))))
    const store = storeFor(s)
    const err = await store.get('x').catch((e) => e)
    expect(err.code).toBe('ERR_INVALID_RESPONSE')
    expect(err.message).toMatch(/larger than DynamoDB sends \(1 MB/)
  })

  test('a connection found out of step carries nothing more, even with calls queued for a connection', async () => {
    let fire
    const trigger = new Promise((resolve) => (fire = resolve))
    let release
    const held = new Promise((resolve) => (release = resolve))
    const s = await listen((request) => {
      const { socket, index, conn } = request
      // A desynced proxy: carol's read gets bob's session, once a call is queued behind the others.
      if (index === 0) return trigger.then(() => socket.write(reply(itemBody('sess:bob', { user: 'bob' }))))
      if (conn === s.requests[0].conn) return socket.write(reply('{}'))
      held.then(() => socket.write(reply(itemBody(keyOf(request), { ok: 1 }))))
    })
    const store = storeFor(s, { timeout: 5000 })
    const carol = store.get('carol').catch((e) => e)
    while (s.requests.length < 1) await delay(5)
    const others = Array.from({ length: 127 }, (_, i) => store.get(`o${i}`))
    while (s.requests.length < 128) await delay(5)
    const destroyed = store.destroy('victim')
    await delay(20)
    fire()
    expect((await carol).code).toBe('ERR_INVALID_RESPONSE')
    release()
    await Promise.all([...others, destroyed])
    const destroy = s.requests.find((r) => r.target === 'DeleteItem' || r.target === 'PutItem')
    expect(destroy.conn).not.toBe(s.requests[0].conn)
  })

  test('a time limit longer than a timer can hold works, without a warning', async () => {
    const warnings = []
    const onWarning = (warning) => warnings.push(warning.name)
    process.on('warning', onWarning)
    const s = await listen(({ socket }) => setTimeout(() => socket.write(reply(itemBody('sess:x', { n: 1 }))), 50))
    const store = storeFor(s, { timeout: 6e9 })
    expect(await store.get('x')).toEqual({ n: 1 })
    await delay(20)
    process.off('warning', onWarning)
    expect(warnings).toEqual([])
  })
})

/** A TCP relay in front of `target` (host:port) that counts the connections open through it. */
async function relay(target) {
  const open = new Set()
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.hostname)
    open.add(client)
    const done = () => {
      open.delete(client)
      client.destroy()
      upstream.destroy()
    }
    client.on('close', done).on('error', done)
    upstream.on('close', done).on('error', done)
    client.pipe(upstream).pipe(client)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    open,
    endpoint: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}

describe.each(CARRIERS)('the HTTP client, on %s, against DynamoDB Local', (carrier) => {
  test('a stalled event loop times out no reply that has arrived, and sends no write twice', async () => {
    const store = storeOn(carrier, { timeout: 1000, versioning: true })
    try {
      await store.set('s', cookieSession({ n: 0 }))
      const read = await store.get('s')
      const retries = store.stats().retries
      // A save on the kept-alive connection, a read that needs a new one.
      const saving = store.set('s', { ...read, n: 1 })
      const reading = store.get('s')
      // A long synchronous stretch (a big JSON.parse, sync crypto): the replies arrive meanwhile.
      const until = Date.now() + 1200
      while (Date.now() < until);
      await saving
      await reading
      expect(store.stats().retries).toBe(retries)
      expect((await store.get('s')).n).toBe(1)
    } finally {
      await store.close()
    }
  })

  test('close() lets the saves queued behind the connection limit finish, then closes every connection', async () => {
    const through = await relay(new URL(endpoint()))
    try {
      const table = uniqueTable('close')
      // A call's time limit counts its wait behind the connection limit: this is about close(), not
      // speed, so the limit is wide enough for a cold DynamoDB Local on a busy machine.
      const store = storeOn(carrier, {
        table,
        timeout: 15_000,
        AWSConfigJSON: { ...connection(), endpoint: through.endpoint },
      })
      await store.set('warm', cookieSession({ n: 0 }))
      const saves = Array.from({ length: 200 }, (_, i) => store.set(`c-${i}`, cookieSession({ i })))
      await store.close()
      const settled = await Promise.allSettled(saves)
      expect(settled.filter((r) => r.status === 'rejected').map((r) => r.reason.message)).toEqual([])
      for (let i = 0; i < 50 && through.open.size > 0; i++) await delay(20)
      expect(through.open.size).toBe(0)
      expect((await store.get('c-1').catch((e) => e)).code).toBe('ERR_STORE_CLOSED')
    } finally {
      await through.close()
    }
  })
})

describe('the HTTP client in processes of its own (a shimmed network, workers, exits)', () => {
  const shim = path.join(os.tmpdir(), `net-shim-${process.pid}.so`)
  const source = path.join(__dirname, 'fixtures', 'net-shim.c')
  let certificates

  beforeAll(() => {
    // Slow or two-address name lookups and small send buffers, for child processes (fixtures/net-shim.c).
    execFileSync('gcc', ['-shared', '-fPIC', '-O1', '-o', shim, source, '-ldl'])
    certificates = makeCertificates()
  })
  afterAll(() => {
    fs.rmSync(shim, { force: true })
    if (certificates) fs.rmSync(certificates.dir, { recursive: true, force: true })
  })

  /** A script that makes a store on `endpoint` (failing fast), then runs `body` with it in an async function. */
  const withStore = (endpoint, body, options = {}) => `
    const Store = require(${JSON.stringify(root)})(require('express-session'))
    const store = new Store(${JSON.stringify({ table: 'fake', initialized: true, circuitBreaker: false, maxRetries: 0, ...options, AWSConfigJSON: { endpoint, region: 'us-east-1', accessKeyId: 'a', secretAccessKey: 'b' } })})
    const count = (results) => results.reduce((seen, r) => {
      const key = r.status === 'fulfilled' ? 'ok' : r.reason.code
      seen[key] = (seen[key] || 0) + 1
      return seen
    }, {})
    ;(async () => { ${body}; await store.close() })()`
  /** The child lived through it: it exited by itself, printed "alive", and nothing aborted. */
  const expectAlive = ({ code, signal, stdout, stderr }) => {
    expect({
      code,
      signal,
      stderr: stderr.split('\n').filter((l) => /abort|uv_loop|Assertion|panic/i.test(l)),
    }).toEqual({ code: 0, signal: null, stderr: [] })
    expect(stdout.trim()).toBe('alive')
  }
  const carrierEnv = (carrier) => ({ CONNECT_DYNAMODB_RS_TRANSPORT: carrier === 'node' ? 'node' : '' })

  test.each(CARRIERS)(
    'over TLS, a server that answers and closes at once fails none of 200 calls at once (%s)',
    async (carrier) => {
      const s = await rawServer(
        ({ socket, index }) => socket.end(reply(itemBody(keyOf(s.requests[index]), { n: index }))),
        {
          tls: { key: certificates.key, cert: certificates.cert },
        },
      )
      const body = `
      const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => store.get('k' + i)))
      console.log(JSON.stringify(count(results)))`
      const { code, stdout, stderr } = await runNode([], withStore(s.endpoint, body, { timeout: 10_000 }), {
        ...carrierEnv(carrier),
        NODE_EXTRA_CA_CERTS: certificates.ca,
      })
      await s.close()
      expect({ code, stderr: stderr.trim() }).toEqual({ code: 0, stderr: '' })
      expect(JSON.parse(stdout)).toEqual({ ok: 200 })
    },
  )

  test('on Node sockets with AWS_CA_BUNDLE, connections share one secure context', async () => {
    const s = await rawServer(
      ({ socket, index }) => socket.end(reply(itemBody(keyOf(s.requests[index]), { n: index }))),
      {
        tls: { key: certificates.key, cert: certificates.cert },
      },
    )
    const body = `
      const tls = require('node:tls')
      let made = 0
      const create = tls.createSecureContext
      tls.createSecureContext = (...args) => (made++, create(...args))
      for (let i = 0; i < 20; i++) await store.get('k' + i)
      console.log(JSON.stringify({ connections: 20, made }))`
    const { code, stdout, stderr } = await runNode([], withStore(s.endpoint, body), {
      ...carrierEnv('node'),
      AWS_CA_BUNDLE: certificates.ca,
    })
    await s.close()
    expect({ code, stderr: stderr.trim() }).toEqual({ code: 0, stderr: '' })
    expect(JSON.parse(stdout)).toEqual({ connections: 20, made: 1 })
    expect(s.connections).toBe(20)
  })

  test.each(CARRIERS)(
    'a name with an address that refuses and one that answers is reached on every call (%s)',
    async (carrier) => {
      // *.dual.test resolves to ::1 first, then 127.0.0.1; the server listens on IPv4 only.
      const s = await rawServer(({ socket, index }) =>
        socket.end(reply(itemBody(keyOf(s.requests[index]), { n: index }))),
      )
      const body = `
      const results = []
      for (let i = 0; i < 10; i++) results.push(await store.get('k' + i).then(() => ({ status: 'fulfilled' }), (reason) => ({ reason })))
      console.log(JSON.stringify(count(results)))`
      const { code, stdout, stderr } = await runNode([], withStore(`http://db.dual.test:${s.port}`, body), {
        ...carrierEnv(carrier),
        LD_PRELOAD: shim,
      })
      await s.close()
      expect({ code, stderr: stderr.trim() }).toEqual({ code: 0, stderr: '' })
      expect(JSON.parse(stdout)).toEqual({ ok: 10 })
    },
  )

  test.each(CARRIERS)(
    'a reply that comes before its request has left ends the request; the next goes on a new connection (%s)',
    async (carrier) => {
      const s = await rawServer(
        ({ socket, index }) => {
          if (index === 0) {
            // Answer at once and stop reading: with a small send buffer, the rest of the request cannot leave.
            socket.pause()
            socket.write(reply('{}'))
            setTimeout(() => socket.resume(), 300)
          } else socket.write(reply(itemBody('sess:y', { n: 2 })))
        },
        { onHead: true },
      )
      const script = `
      const Store = require(${JSON.stringify(root)})(require('express-session'))
      const store = new Store({ table: 'fake', initialized: true, circuitBreaker: false, maxRetries: 0, AWSConfigJSON: { endpoint: '${s.endpoint}', region: 'us-east-1', accessKeyId: 'a', secretAccessKey: 'b' } })
      ;(async () => {
        await store.set('x', { cookie: { maxAge: 60000 }, big: 'b'.repeat(380000) })
        console.log(JSON.stringify(await store.get('y')))
        await store.close()
      })()`
      const env = {
        LD_PRELOAD: shim,
        SHIM_SNDBUF: '4096',
        CONNECT_DYNAMODB_RS_TRANSPORT: carrier === 'node' ? 'node' : '',
      }
      const { code, stdout, stderr } = await runNode([], script, env, 20_000)
      await s.close()
      expect({ code, stderr: stderr.trim() }).toEqual({ code: 0, stderr: '' })
      expect(JSON.parse(stdout)).toEqual({ n: 2 })
      expect(s.requests.map((r) => r.head)).toEqual(['POST / HTTP/1.1', 'POST / HTTP/1.1'])
      expect(s.requests[1].conn).not.toBe(s.requests[0].conn)
    },
  )

  test.each(CARRIERS)(
    'workers that end while a name lookup is pending leave the process running (%s)',
    async (carrier) => {
      const s = await rawServer(({ socket }) => socket.write(reply(itemBody('sess:x', { n: 1 }))))
      const script = `
      const { Worker } = require('node:worker_threads')
      const code = \`
        const Store = require(${JSON.stringify(root)})(require('express-session'))
        const store = new Store({ table: 'fake', initialized: true, AWSConfigJSON: { endpoint: 'http://db.slow.test:${s.port}', region: 'us-east-1', accessKeyId: 'a', secretAccessKey: 'b' } })
        store.get('x').catch(() => {})
        require('node:worker_threads').parentPort.postMessage('asked')
        if (process.env.HOW === 'exit') setTimeout(() => process.exit(0), 100)
      \`
      const one = (how) => new Promise((resolve) => {
        const worker = new Worker(code, { eval: true, env: { ...process.env, HOW: how } })
        worker.once('message', () => { if (how === 'terminate') setTimeout(() => worker.terminate(), 100) })
        worker.once('exit', resolve)
      })
      ;(async () => {
        for (let i = 0; i < 3; i++) { await one('terminate'); await one('exit') }
        console.log('alive')
      })()`
      const env = { LD_PRELOAD: shim, CONNECT_DYNAMODB_RS_TRANSPORT: carrier === 'node' ? 'node' : '' }
      const ran = await runNode([], script, env)
      await s.close()
      expectAlive(ran)
    },
  )

  test.each(CARRIERS)(
    'workers that end at random points during calls leave the process running (%s)',
    async (carrier) => {
      const options = {
        table: uniqueTable('workers'),
        AWSConfigJSON: { ...connection(), endpoint: endpoint().replace('127.0.0.1', 'localhost') },
      }
      const script = `
      const { Worker } = require('node:worker_threads')
      const code = \`
        const Store = require(${JSON.stringify(root)})(require('express-session'))
        const store = new Store(${JSON.stringify(options)})
        const loop = (i) => store.set('w' + (i % 5), { cookie: { maxAge: 60000 }, i }).then(() => store.get('w' + (i % 5))).then(() => loop(i + 1), () => loop(i + 1))
        loop(0)
        if (process.env.HOW === 'exit') setTimeout(() => process.exit(0), Number(process.env.AFTER))
      \`
      const one = (how, after) => new Promise((resolve) => {
        const worker = new Worker(code, { eval: true, env: { ...process.env, HOW: how, AFTER: String(after) } })
        if (how === 'terminate') setTimeout(() => worker.terminate(), after)
        worker.once('exit', resolve)
      })
      ;(async () => {
        const runs = []
        for (let i = 0; i < 16; i++) runs.push(one(i % 3 === 0 ? 'exit' : 'terminate', Math.floor(Math.random() * 400)))
        await Promise.all(runs)
        console.log('alive')
      })()`
      const env = { CONNECT_DYNAMODB_RS_TRANSPORT: carrier === 'node' ? 'node' : '' }
      expectAlive(await runNode([], script, env, 90_000))
    },
  )

  test.each(CARRIERS)(
    'a store nobody references any more is collected, and its connections close (%s)',
    async (carrier) => {
      const s = await rawServer(({ socket, index }) => socket.write(reply(itemBody('sess:x', { n: index }))))
      const script = `
      const Store = require(${JSON.stringify(root)})(require('express-session'))
      const collected = new Set()
      const registry = new FinalizationRegistry((i) => collected.add(i))
      const options = { table: 'fake', initialized: true, AWSConfigJSON: { endpoint: '${s.endpoint}', region: 'us-east-1', accessKeyId: 'a', secretAccessKey: 'b' } }
      const once = async (i) => {
        const store = new Store(options)
        registry.register(store, i)
        await store.get('x')
      }
      ;(async () => {
        for (let i = 0; i < 40; i++) await once(i)
        for (let i = 0; i < 20 && collected.size < 40; i++) {
          await new Promise((resolve) => setTimeout(resolve, 50))
          globalThis.gc()
        }
        await new Promise((resolve) => setTimeout(resolve, 200))
        console.log(JSON.stringify({ collected: collected.size }))
      })()`
      const env = { CONNECT_DYNAMODB_RS_TRANSPORT: carrier === 'node' ? 'node' : '' }
      const { code, stdout, stderr } = await runNode(['--expose-gc'], script, env)
      const openAfter = s.open.size
      await s.close()
      expect({ code, stderr: stderr.trim() }).toEqual({ code: 0, stderr: '' })
      expect(JSON.parse(stdout)).toEqual({ collected: 40 })
      expect(s.connections).toBe(40)
      expect(openAfter).toBe(0)
    },
  )
})
