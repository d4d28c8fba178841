'use strict'

const helpers = require('./helpers')
const { rawClient, rawItem, putRaw, cookieSession, viaCallback, nowSeconds, uniqueTable, createTableWithoutTtl } =
  helpers

const raw = rawClient()
afterAll(() => raw.destroy())

// These tests put expired items and look at them afterwards: their tables have no TTL.
const tables = []
const newStore = (options = {}) => {
  const table = options.table || uniqueTable()
  if (!tables.includes(table)) tables.push(table)
  return helpers.newStore({ table, initialized: true, ...options })
}
beforeAll(() => Promise.all(tables.map((table) => createTableWithoutTtl(raw, table))))

describe('get / set / destroy', () => {
  const store = newStore()
  afterAll(() => store.close())

  test('a stored session reads back as the same object', async () => {
    const sess = cookieSession({ user: { name: 'ann' }, visits: 3, tags: ['a', 'é'] })
    await store.set('s1', sess)
    expect(await store.get('s1')).toEqual(sess)
  })

  test('set upserts', async () => {
    await store.set('s2', cookieSession({ n: 1 }))
    await store.set('s2', cookieSession({ n: 2 }))
    expect((await store.get('s2')).n).toBe(2)
  })

  test('an unknown sid reads as null', async () => {
    expect(await store.get('never-stored')).toBeNull()
  })

  test('destroy leaves no session (a tombstone without sess); destroying an unknown sid is fine', async () => {
    await store.set('s3', cookieSession())
    await store.destroy('s3')
    expect(await store.get('s3')).toBeNull()
    expect((await rawItem(raw, store.table, 'sess:s3')).sess).toBeUndefined()
    await expect(store.destroy('never-stored')).resolves.toBeUndefined()
    expect(await rawItem(raw, store.table, 'sess:never-stored')).toBeUndefined()
  })

  test('every method works with a callback, called once and asynchronously', async () => {
    const set = await viaCallback((cb) => store.set('cb', cookieSession({ n: 5 }), cb))
    expect(set).toMatchObject({ calls: 1, sync: false, args: [null, undefined] })
    const got = await viaCallback((cb) => store.get('cb', cb))
    expect(got.calls).toBe(1)
    expect(got.args[1].n).toBe(5)
    const touched = await viaCallback((cb) => store.touch('cb', cookieSession({ n: 5 }), cb))
    expect(touched.args[1]).toEqual({ expires: expect.any(String) })
    const destroyed = await viaCallback((cb) => store.destroy('cb', cb))
    expect(destroyed).toMatchObject({ calls: 1, sync: false, args: [null, undefined] })
  })
})

describe('item layout and expiry', () => {
  const store = newStore()
  afterAll(() => store.close())

  test('items have the connect-dynamodb layout', async () => {
    const sess = cookieSession({ a: 1 }, 120_000)
    await store.set('layout', sess)
    const item = await rawItem(raw, store.table, 'sess:layout')
    expect(Object.keys(item).sort()).toEqual(['expires', 'expiresMs', 'id', 'sess', 'type'])
    expect(item.id).toEqual({ S: 'sess:layout' })
    expect(item.type).toEqual({ S: 'connect-session' })
    expect(item.sess).toEqual({ S: JSON.stringify(sess) })
    expect(Number(item.expires.N)).toBe(Math.ceil(Date.parse(sess.cookie.expires) / 1000))
    expect(Number(item.expiresMs.N)).toBe(Date.parse(sess.cookie.expires))
  })

  test('expiry comes from cookie.expires, else cookie.maxAge, else one day', async () => {
    const at = Date.now() + 3_600_000
    await store.set('abs', { cookie: { expires: new Date(at).toISOString(), maxAge: 5 } })
    await store.set('rel', { cookie: { maxAge: 600_000 } })
    await store.set('none', { cookie: {} })
    const expires = async (sid) => Number((await rawItem(raw, store.table, `sess:${sid}`)).expires.N)
    expect(await expires('abs')).toBe(Math.ceil(at / 1000))
    expect(Math.abs((await expires('rel')) - (nowSeconds() + 600))).toBeLessThanOrEqual(2)
    expect(Math.abs((await expires('none')) - (nowSeconds() + 86_400))).toBeLessThanOrEqual(2)
  })

  test('expired, sessionless and malformed items read as null', async () => {
    const table = store.table
    await putRaw(raw, table, {
      id: { S: 'sess:old' },
      expires: { N: String(nowSeconds() - 1) },
      sess: { S: '{"a":1}' },
    })
    await putRaw(raw, table, { id: { S: 'sess:now' }, expires: { N: String(nowSeconds()) }, sess: { S: '{"a":1}' } })
    await putRaw(raw, table, { id: { S: 'sess:stub' }, expires: { N: String(nowSeconds() + 60) } })
    await putRaw(raw, table, {
      id: { S: 'sess:bad' },
      expires: { N: String(nowSeconds() + 60) },
      sess: { S: '{not json' },
    })
    await putRaw(raw, table, { id: { S: 'sess:num' }, expires: { N: String(nowSeconds() + 60) }, sess: { N: '5' } })
    await putRaw(raw, table, { id: { S: 'sess:arr' }, expires: { N: String(nowSeconds() + 60) }, sess: { S: '[1]' } })
    for (const sid of ['old', 'now', 'stub', 'bad', 'num', 'arr']) {
      expect(await store.get(sid)).toBeNull()
    }
    // Expired items are left in place, as connect-dynamodb leaves them.
    expect(await rawItem(raw, table, 'sess:old')).toBeDefined()
  })
})

describe('touch', () => {
  const store = newStore()
  afterAll(() => store.close())

  test('moves expires forward and resolves it, as a string of epoch seconds', async () => {
    await store.set('t1', cookieSession({ n: 1 }, 10_000))
    const result = await store.touch('t1', cookieSession({ n: 1 }, 3_600_000))
    const item = await rawItem(raw, store.table, 'sess:t1')
    expect(result).toEqual({ expires: item.expires.N })
    expect(Number(item.expires.N)).toBeGreaterThan(nowSeconds() + 3_500)
    expect(JSON.parse(item.sess.S).n).toBe(1)
  })

  test('never creates an item for an unknown or destroyed session', async () => {
    expect(await store.touch('ghost', cookieSession())).toBeNull()
    expect(await rawItem(raw, store.table, 'sess:ghost')).toBeUndefined()

    await store.set('gone', cookieSession())
    await store.destroy('gone')
    expect(await store.touch('gone', cookieSession())).toBeNull()
    expect((await rawItem(raw, store.table, 'sess:gone')).sess).toBeUndefined()
  })

  test('does not revive an expired session', async () => {
    const expires = String(nowSeconds() - 5)
    await putRaw(raw, store.table, { id: { S: 'sess:dead' }, expires: { N: expires }, sess: { S: '{}' } })
    expect(await store.touch('dead', cookieSession())).toBeNull()
    expect((await rawItem(raw, store.table, 'sess:dead')).expires.N).toBe(expires)
  })

  test('accepts (sid, callback)', async () => {
    await store.set('t2', cookieSession())
    const { args } = await viaCallback((cb) => store.touch('t2', cb))
    expect(args[0]).toBeNull()
    expect(Number(args[1].expires)).toBeGreaterThan(nowSeconds() + 86_000)
  })
})

describe('all / ids / length / clear / reap', () => {
  const store = newStore({ prefix: 'app1:' })
  const neighbour = newStore({ table: store.table, prefix: 'app2:' })
  afterAll(() => Promise.all([store.close(), neighbour.close()]))

  beforeAll(async () => {
    await store.initialize()
    await Promise.all([
      store.set('a', cookieSession({ n: 'a' })),
      store.set('b', cookieSession({ n: 'b' })),
      neighbour.set('x', cookieSession({ n: 'x' })),
      putRaw(raw, store.table, {
        id: { S: 'app1:expired' },
        expires: { N: String(nowSeconds() - 10) },
        sess: { S: '{}' },
      }),
    ])
  })

  test('see only live sessions of their own prefix', async () => {
    expect((await store.ids()).sort()).toEqual(['a', 'b'])
    expect(await store.length()).toBe(2)
    const all = await store.all()
    expect(all.map((s) => [s.id, s.n]).sort()).toEqual([
      ['a', 'a'],
      ['b', 'b'],
    ])
    expect(await neighbour.ids()).toEqual(['x'])
  })

  test('reap deletes only expired sessions of its prefix, and calls back once', async () => {
    await putRaw(raw, store.table, {
      id: { S: 'app2:expired' },
      expires: { N: String(nowSeconds() - 10) },
      sess: { S: '{}' },
    })
    const { args, calls } = await viaCallback((cb) => store.reap(cb))
    expect(calls).toBe(1)
    expect(args).toEqual([null, 1])
    expect(await rawItem(raw, store.table, 'app1:expired')).toBeUndefined()
    expect(await rawItem(raw, store.table, 'app2:expired')).toBeDefined()
    expect(await store.length()).toBe(2)
  })

  test('clear deletes every session of its prefix and leaves others', async () => {
    expect(await store.clear()).toBe(2)
    expect(await store.length()).toBe(0)
    expect(await neighbour.get('x')).toMatchObject({ n: 'x' })
  })
})

describe('many sessions', () => {
  const store = newStore()
  afterAll(() => store.close())

  // 300 sessions of ~4 KB make Scan return more than one 1 MB page, and
  // deleting them takes 12 BatchWriteItem chunks.
  test('scans page through, and clear deletes them all in batches', async () => {
    const payload = 'x'.repeat(4000)
    const sids = Array.from({ length: 300 }, (_, i) => `many-${i}`)
    for (let i = 0; i < sids.length; i += 50) {
      await Promise.all(sids.slice(i, i + 50).map((sid) => store.set(sid, cookieSession({ payload }))))
    }
    expect(await store.length()).toBe(300)
    expect((await store.ids()).sort()).toEqual([...sids].sort())
    expect(await store.clear()).toBe(300)
    expect(await store.length()).toBe(0)
  })
})

describe('reapInterval', () => {
  test('runs reap on a timer, and clearInterval stops it', async () => {
    const table = uniqueTable()
    await createTableWithoutTtl(raw, table)
    const store = newStore({ table, reapInterval: 200 })
    await store.initialize()
    await putRaw(raw, store.table, {
      id: { S: 'sess:stale' },
      expires: { N: String(nowSeconds() - 10) },
      sess: { S: '{}' },
    })
    await new Promise((r) => setTimeout(r, 800))
    expect(await rawItem(raw, store.table, 'sess:stale')).toBeUndefined()
    await store.clearInterval()
    await putRaw(raw, store.table, {
      id: { S: 'sess:stale2' },
      expires: { N: String(nowSeconds() - 10) },
      sess: { S: '{}' },
    })
    await new Promise((r) => setTimeout(r, 500))
    expect(await rawItem(raw, store.table, 'sess:stale2')).toBeDefined()
    await store.close()
  })

  test('the timer does not keep the process alive', async () => {
    const { execFile } = require('node:child_process')
    const script = `
      const session = require('express-session')
      const Store = require(${JSON.stringify(require.resolve('..'))})(session)
      const store = new Store({ reapInterval: 50, AWSConfigJSON: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', accessKeyId: 't', secretAccessKey: 't' } })
      setTimeout(() => console.log('alive after 300 ms'), 300)`
    const started = Date.now()
    const stdout = await new Promise((resolve, reject) =>
      execFile(process.execPath, ['-e', script], { cwd: __dirname, timeout: 10_000 }, (err, out) =>
        err ? reject(err) : resolve(out),
      ),
    )
    expect(stdout.trim()).toBe('alive after 300 ms')
    expect(Date.now() - started).toBeLessThan(5_000)
  })
})

describe('close', () => {
  test('later calls fail with ERR_STORE_CLOSED', async () => {
    const store = helpers.newStore()
    await store.set('c', cookieSession())
    await store.close()
    await expect(store.get('c')).rejects.toMatchObject({ code: 'ERR_STORE_CLOSED' })
  })
})
